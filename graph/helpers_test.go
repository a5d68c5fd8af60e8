package graph_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// env is a facade in front of a fresh fakeapi upstream.
type env struct {
	t        *testing.T
	upstream *fakeapi.Server
	handler  http.Handler
	data     *fakeapi.Dataset
}

type envOption func(*envConfig)

type envConfig struct {
	fake   []fakeapi.Option
	client []restclient.Option
	graph  graph.Options
}

func withFake(opts ...fakeapi.Option) envOption {
	return func(c *envConfig) { c.fake = append(c.fake, opts...) }
}

func withClient(opts ...restclient.Option) envOption {
	return func(c *envConfig) { c.client = append(c.client, opts...) }
}

func withGraph(f func(*graph.Options)) envOption {
	return func(c *envConfig) { f(&c.graph) }
}

// newEnv is a facade with introspection on, as in demo mode.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return buildEnv(t, opts, func(o *graph.Options) { o.Introspection = true })
}

// newSecureEnv is newEnv without the test-friendly settings: introspection
// stays as the options say (off unless set), as in production.
func newSecureEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return buildEnv(t, opts, func(o *graph.Options) {
		if o.Logger == nil {
			o.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

func buildEnv(t *testing.T, opts []envOption, finish func(*graph.Options)) *env {
	t.Helper()
	var cfg envConfig
	for _, o := range opts {
		o(&cfg)
	}
	fake := fakeapi.NewServer(cfg.fake...)
	t.Cleanup(fake.Close)
	client, err := restclient.New(fake.URL, cfg.client...)
	require.NoError(t, err)
	cfg.graph.Upstream = client
	finish(&cfg.graph)
	return &env{t: t, upstream: fake, handler: graph.NewHandler(cfg.graph), data: fake.Dataset()}
}

// syncBuffer is a log sink safe for the handler's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gqlResponse is a GraphQL response as the wire carries it.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	status int
	header http.Header
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// do posts a query with the demo credential unless headers say otherwise
// (a nil value removes a header).
func (e *env) do(query string, vars map[string]any, headers map[string]*string) *gqlResponse {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(e.t, err)
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", fakeapi.DefaultToken)
	for k, v := range headers {
		if v == nil {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, *v)
		}
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	var out gqlResponse
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	out.status = rec.Code
	out.header = rec.Header()
	return &out
}

// ok runs a query that must succeed and decodes its data into v.
func (e *env) ok(query string, vars map[string]any, v any) {
	e.t.Helper()
	res := e.do(query, vars, nil)
	require.Empty(e.t, res.Errors, "errors: %+v", res.Errors)
	require.NoError(e.t, json.Unmarshal(res.Data, v))
}

func ptr(s string) *string { return &s }

// wireTime parses the dataset's wire dates the way the facade must, UTC.
func wireTime(s string) *time.Time {
	for _, layout := range []string{time.DateTime, time.DateOnly, time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil && t.Year() > 1 {
			return &t
		}
	}
	return nil
}

// rfc3339 renders a wire date as the facade serves it, or "" when absent.
func rfc3339(s string) string {
	t := wireTime(s)
	if t == nil {
		return ""
	}
	return t.Format(time.RFC3339)
}

// newestFirst returns the dataset's meetings ordered as User.meetings orders
// them by default: start date descending, undated last, ties by id.
func newestFirst(ms []fakeapi.Meeting) []fakeapi.Meeting {
	out := append([]fakeapi.Meeting(nil), ms...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := wireTime(out[i].StartDate), wireTime(out[j].StartDate)
		switch {
		case a == nil && b == nil:
			return out[i].ID < out[j].ID
		case a == nil:
			return false
		case b == nil:
			return true
		case a.Equal(*b):
			return out[i].ID < out[j].ID
		}
		return a.After(*b)
	})
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func user(t testing.TB, d *fakeapi.Dataset, id int64) *fakeapi.User {
	t.Helper()
	u, ok := d.User(id)
	require.True(t, ok, "dataset has no user %d", id)
	return u
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func newBenchHandler(tb testing.TB, fake *fakeapi.Server) http.Handler {
	client, err := restclient.New(fake.URL)
	if err != nil {
		tb.Fatal(err)
	}
	// The operation log line is off, as it was before there was one:
	// BenchmarkNestedQueryObservability measures it.
	return graph.NewHandler(graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler)})
}

// httpResult is an HTTP response of the handler, decoded when it is JSON.
type httpResult struct {
	status  int
	header  http.Header
	body    []byte
	hasData bool
	data    json.RawMessage
	errors  []gqlError
	isJSON  bool
}

func (r *httpResult) code() string {
	if len(r.errors) == 0 {
		return ""
	}
	return r.errors[0].code()
}

// send serves req and decodes the answer.
func (e *env) send(req *http.Request) *httpResult {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return decodeResult(rec.Code, rec.Header(), rec.Body.Bytes())
}

func decodeResult(status int, h http.Header, body []byte) *httpResult {
	res := &httpResult{status: status, header: h, body: body}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		res.isJSON = true
		res.data, res.hasData = m["data"]
		_ = json.Unmarshal(m["errors"], &res.errors)
	}
	// A batch's answer: its responses' errors, in order (batchAnswers
	// reads them one by one).
	var batch []struct {
		Data   *json.RawMessage `json:"data"`
		Errors []gqlError       `json:"errors"`
	}
	if json.Unmarshal(body, &batch) == nil {
		res.isJSON = true
		for _, r := range batch {
			res.hasData = res.hasData || r.Data != nil
			res.errors = append(res.errors, r.Errors...)
		}
	}
	return res
}

// postReq is a POST of body with Content-Type: application/json and the
// demo credential, then the given header pairs ("" removes a header).
func postReq(body string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", fakeapi.DefaultToken)
	return withHeaders(r, headers)
}

func withHeaders(r *http.Request, pairs []string) *http.Request {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			r.Header.Del(pairs[i])
		} else {
			r.Header.Set(pairs[i], pairs[i+1])
		}
	}
	return r
}

// body encodes a GraphQL request.
func body(query string, vars map[string]any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

// userIDs is "1" to n.
func userIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = itoa(int64(i + 1))
	}
	return out
}

const (
	grJSON   = "application/graphql-response+json; charset=utf-8"
	jsonType = "application/json; charset=utf-8"
)

const mediaJSONAccept = "application/json"

// readAllReset returns a fresh reader over r's body and restores r's.
func readAllReset(r *http.Request) (*readCloser, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r.Body)
	b := buf.Bytes()
	r.Body = &readCloser{bytes.NewReader(b)}
	return &readCloser{bytes.NewReader(b)}, err
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
