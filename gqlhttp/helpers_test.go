package gqlhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

// env is an endpoint over the test schema, with every hook recorded.
type env struct {
	t        *testing.T
	res      *testschema.Resolver
	srv      *gqlhttp.Server
	handler  http.Handler
	events   *events
	log      *syncBuffer
	requests int // requests served, for the ids RequestID gives
}

// newEnv is an endpoint with the given options and, unless changed, the
// defaults (introspection off, as in production).
func newEnv(t *testing.T, opts ...func(*gqlhttp.Options)) *env {
	t.Helper()
	return newEnvWith(t, &testschema.Resolver{}, opts...)
}

func newEnvWith(t *testing.T, res *testschema.Resolver, opts ...func(*gqlhttp.Options)) *env {
	t.Helper()
	var o gqlhttp.Options
	for _, f := range opts {
		f(&o)
	}
	srv, err := gqlhttp.New(testschema.New(res), o)
	require.NoError(t, err)
	e := &env{t: t, res: res, srv: srv, handler: srv, events: &events{}, log: &syncBuffer{}}
	srv.Logger = slog.New(slog.NewJSONHandler(e.log, nil))
	var mu sync.Mutex
	srv.RequestID = func(*http.Request) string {
		mu.Lock()
		defer mu.Unlock()
		e.requests++
		return fmt.Sprintf("req-%d", e.requests)
	}
	e.events.install(srv)
	return e
}

// calls is how many resolvers ran.
func (e *env) calls() int { return int(e.res.Calls.Load()) }

// events records what the Server's On hooks are told.
type events struct {
	mu       sync.Mutex
	refused  []string // codes
	replaced []string // "op:code"
	added    []string // "op:code"
	apq      []string // "op:result"
	memory   int64    // the response memory held, as the hook saw it
}

func (ev *events) install(srv *gqlhttp.Server) {
	srv.OnRefused = func(_ context.Context, errs gqlerror.List) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		ev.refused = append(ev.refused, codesOf(errs)...)
	}
	srv.OnReplaced = func(_ context.Context, op int, errs gqlerror.List) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		for _, c := range codesOf(errs) {
			ev.replaced = append(ev.replaced, fmt.Sprintf("%d:%s", op, c))
		}
	}
	srv.OnAdded = func(_ context.Context, op int, errs gqlerror.List) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		for _, c := range codesOf(errs) {
			ev.added = append(ev.added, fmt.Sprintf("%d:%s", op, c))
		}
	}
	srv.OnAPQ = func(_ context.Context, op int, r gqlhttp.APQResult) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		ev.apq = append(ev.apq, fmt.Sprintf("%d:%s", op, r))
	}
	srv.OnResponseMemory = func(delta int64) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		ev.memory += delta
	}
}

// snapshot returns copies of what was recorded, and forgets it.
func (ev *events) take() (refused, replaced, added, apq []string) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	refused, replaced, added, apq = ev.refused, ev.replaced, ev.added, ev.apq
	ev.refused, ev.replaced, ev.added, ev.apq = nil, nil, nil, nil
	return
}

func (ev *events) memoryHeld() int64 {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.memory
}

func codesOf(errs gqlerror.List) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i], _ = e.Extensions["code"].(string)
	}
	return out
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

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
	Locations  []struct{ Line, Column int }
}

func (e gqlError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
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

// post sends a POST of query with variables.
func (e *env) post(query string, vars map[string]any, headers ...string) *httpResult {
	e.t.Helper()
	return e.send(postReq(body(query, vars), headers...))
}

func decodeResult(status int, h http.Header, b []byte) *httpResult {
	res := &httpResult{status: status, header: h, body: b}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) == nil {
		res.isJSON = true
		res.data, res.hasData = m["data"]
		_ = json.Unmarshal(m["errors"], &res.errors)
	}
	// A batch's answer: its responses' errors, in order.
	var batch []struct {
		Data   *json.RawMessage `json:"data"`
		Errors []gqlError       `json:"errors"`
	}
	if json.Unmarshal(b, &batch) == nil {
		res.isJSON = true
		for _, r := range batch {
			res.hasData = res.hasData || r.Data != nil
			res.errors = append(res.errors, r.Errors...)
		}
	}
	return res
}

// postReq is a POST of body with Content-Type: application/json, then the
// given header pairs ("" removes a header).
func postReq(body string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return withHeaders(r, headers)
}

// getReq is a GET with the given URL query and a preflight header, then
// the given header pairs.
func getReq(rawQuery string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/graphql?"+rawQuery, nil)
	r.Header.Set("Apollo-Require-Preflight", "true")
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

// repeat is format rendered for 0 to n-1, joined.
func repeat(format string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

const (
	grJSON   = "application/graphql-response+json; charset=utf-8"
	jsonType = "application/json; charset=utf-8"
)

func itoa(n int) string { return strconv.Itoa(n) }
