package graph_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// explodingUpstream panics in the middle of a call, as a bug would.
type explodingUpstream struct {
	graph.Upstream
	value any
}

func (u explodingUpstream) UserList(ctx context.Context, list restclient.AnyList, id int64, page int) (restclient.Records, error) {
	if list != restclient.Meetings {
		return u.Upstream.UserList(ctx, list, id, page)
	}
	panic(u.value)
}

// goLeaks are traces of Go internals that must never reach a client.
var goLeaks = regexp.MustCompile(`goroutine \d|\.go:\d|runtime\.|\*restclient\.|restclient\.[A-Z]|json\.Number|float64|map\[string\]|interface \{\}|\[\]interface|panic:`)

func TestInternalErrorsAreMasked(t *testing.T) {
	var logs syncBuffer
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	client, err := restclient.New(fake.URL)
	require.NoError(t, err)
	type secret struct{ Password string }
	h := graph.NewHandler(graph.Options{
		Upstream: explodingUpstream{Upstream: client, value: &secret{Password: "hunter2-hunter2"}},
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	})
	e := &env{t: t, handler: h, upstream: fake}
	res := e.send(postReq(body(`{ user(id: "1") { meetings { totalCount } } }`, nil)))
	assert.Equal(t, http.StatusOK, res.status)
	require.Len(t, res.errors, 1)
	er := res.errors[0]
	assert.Equal(t, graph.CodeInternal, er.code())
	assert.Equal(t, "internal error", er.Message)
	id, _ := er.Extensions["requestId"].(string)
	require.NotEmpty(t, id)
	assert.Equal(t, id, res.header.Get("X-Request-Id"))
	assert.NotContains(t, string(res.body), "hunter2")
	assert.NotContains(t, string(res.body), "secret")
	assert.False(t, goLeaks.Match(res.body), "%s", res.body)
	// The details are logged, with the request id, for whoever runs the server.
	assert.Contains(t, logs.String(), id)
	assert.Contains(t, logs.String(), "hunter2")
}

func TestUpstreamFailuresNameNoHost(t *testing.T) {
	// A port nothing listens on: connection refused.
	ln := httptest.NewServer(http.NotFoundHandler())
	addr := ln.Listener.Addr().String()
	ln.Close()
	client, err := restclient.New("http://"+addr, restclient.WithTimeout(2*time.Second))
	require.NoError(t, err)
	e := &env{t: t, handler: graph.NewHandler(graph.Options{Upstream: client})}
	res := e.send(postReq(body(`{ user(id: "1") { meetings { totalCount } } }`, nil)))
	require.Len(t, res.errors, 1)
	assert.Equal(t, graph.CodeUpstreamUnreachable, res.code())
	host, port, _ := strings.Cut(addr, ":")
	assert.NotContains(t, string(res.body), addr)
	assert.NotContains(t, string(res.body), host)
	assert.NotContains(t, string(res.body), ":"+port)
	assert.False(t, goLeaks.Match(res.body), "%s", res.body)
}

// forwarding is Options that forward these headers.
func forwarding(headers ...string) graph.Options {
	var o graph.Options
	o.ForwardHeaders = headers
	return o
}

func TestForwardedHeadersAreExactlyTheAllowList(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []http.Header
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":200,"data":{"list":[]}}`))
	}))
	t.Cleanup(up.Close)
	client, err := restclient.New(up.URL)
	require.NoError(t, err)
	run := func(forward []string, headers ...string) http.Header {
		t.Helper()
		mu.Lock()
		seen = nil
		mu.Unlock()
		o := forwarding(forward...)
		o.Upstream = client
		e := &env{t: t, handler: graph.NewHandler(o)}
		res := e.send(postReq(body(`{ user(id: "1") { meetings { totalCount } } }`, nil), headers...))
		require.Empty(t, res.errors, "%s", res.body)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, seen, 1)
		return seen[0]
	}
	sent := []string{"Authorization", "Bearer a", "Cookie", "session=s", "X-Tenant", "t1", "X-Other", "o",
		"Proxy-Authorization", "Basic p", "Forwarded", "for=1.2.3.4"}

	got := run(nil, sent...)
	assert.Equal(t, []string{"Bearer a"}, got.Values("Authorization"))
	for _, h := range []string{"Cookie", "X-Tenant", "X-Other", "Proxy-Authorization", "Forwarded"} {
		assert.Empty(t, got.Values(h), "%s is not on the default list", h)
	}

	got = run([]string{"Authorization", "X-Tenant"}, sent...)
	assert.Equal(t, []string{"t1"}, got.Values("X-Tenant"))
	assert.Empty(t, got.Values("Cookie"), "Cookie only when listed")

	got = run([]string{"Authorization", "Cookie"}, sent...)
	assert.Equal(t, []string{"session=s"}, got.Values("Cookie"))

	// A header the caller marks hop-by-hop is not forwarded, even when listed.
	got = run([]string{"Authorization", "X-Tenant"}, append(sent, "Connection", "X-Tenant")...)
	assert.Empty(t, got.Values("X-Tenant"))
	assert.Equal(t, []string{"Bearer a"}, got.Values("Authorization"))
}

func TestIDsCannotLeaveThePathTemplates(t *testing.T) {
	e := newSecureEnv(t)
	hostile := []string{
		"1/../../admin", "1/..%2F..%2Fadmin", "..", "1?page=2", "1#x", "1;x", "%31", "１", "+1", "0x10", " 1", "1 ",
		"1\n", "1\u0000", "-0", "0", "01e2", "1e3", "1.0", "9223372036854775808", "", "\u202e1", "1\r\nX-Injected: 1",
	}
	queries := []struct{ q, arg string }{
		{`query($v: ID!) { user(id: $v) { meetings { totalCount } threads { totalCount } } }`, "single"},
		{`query($v: ID!) { users(ids: ["2", $v]) { meetings { totalCount } } }`, "list"},
	}
	for _, id := range hostile {
		for _, q := range queries {
			e.upstream.Reset()
			res := e.send(postReq(body(q.q, map[string]any{"v": id})))
			assert.Equal(t, graph.CodeBadUserInput, res.code(), "%q (%s): %s", id, q.arg, res.body)
			assert.Zero(t, e.upstream.Calls(), "%q", id)
		}
		// A global id is decoded to an owner the same way.
		for _, typ := range []string{"User", "Meeting", "Thread"} {
			key := id
			if typ != "User" {
				key = id + ":5"
			}
			e.upstream.Reset()
			res := e.send(postReq(body(`query($v: ID!) { node(id: $v) { globalId } }`, map[string]any{"v": model.EncodeGlobalID(typ, key)})))
			assert.Equal(t, graph.CodeBadUserInput, res.code(), "%s %q: %s", typ, id, res.body)
			assert.Zero(t, e.upstream.Calls())
		}
	}
	// Valid ids, the largest included, reach exactly the two templates.
	e.upstream.Reset()
	res := e.send(postReq(body(`{ users(ids: ["9223372036854775807", "007"]) { meetings { totalCount } threads { totalCount } } }`, nil)))
	require.NotNil(t, res.data)
	path := regexp.MustCompile(`^/api/v1/users/[1-9][0-9]{0,18}/(meetings|threads)$`)
	reqs := e.upstream.Requests()
	require.Len(t, reqs, 4)
	for _, r := range reqs {
		assert.Regexp(t, path, r.Path)
	}
}

func TestEachCallerGetsExactlyItsOwnData(t *testing.T) {
	const callers = 50
	iterations := 20
	if testing.Short() {
		iterations = 3
	}
	tokens := make([]string, callers)
	var opts []fakeapi.Option
	for i := range tokens {
		tokens[i] = fmt.Sprintf("Bearer tenant-%02d", i)
		opts = append(opts, fakeapi.WithTenant(tokens[i], int64(7000+i)))
	}
	e := newSecureEnv(t, withFake(opts...))
	want := make([]string, callers)
	for i, tok := range tokens {
		var b strings.Builder
		for _, m := range newestFirst(user(t, e.upstream.DatasetFor(tok), 7).Meetings) {
			fmt.Fprintf(&b, "%d|%s;", m.ID, m.Address)
		}
		want[i] = b.String()
	}
	for i := 1; i < callers; i++ {
		require.NotEqual(t, want[0], want[i], "tenants must differ for the test to mean anything")
	}
	query := body(`{ user(id: "7") { meetings(first: 100) { nodes { id address } } } }`, nil)
	for it := range iterations {
		e.upstream.Reset()
		gate := e.upstream.Gate(callers)
		got := make([]*httpResult, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				e.handler.ServeHTTP(rec, postReq(query, "Authorization", tokens[i]))
				got[i] = decodeResult(rec.Code, rec.Header(), rec.Body.Bytes())
			})
		}
		// Every caller's upstream call is held at once: none was shared.
		require.True(t, gate.Wait(30*time.Second), "iteration %d: %d of %d upstream calls arrived together", it, gate.Arrived(), callers)
		wg.Wait()
		for i, res := range got {
			require.Empty(t, res.errors, "caller %d: %s", i, res.body)
			var data struct {
				User struct {
					Meetings struct {
						Nodes []struct{ ID, Address string }
					}
				}
			}
			require.NoError(t, jsonUnmarshal(res.data, &data))
			var b strings.Builder
			for _, m := range data.User.Meetings.Nodes {
				fmt.Fprintf(&b, "%s|%s;", m.ID, m.Address)
			}
			require.Equal(t, want[i], b.String(), "iteration %d: caller %d got another tenant's data", it, i)
			require.Equal(t, 1, e.upstream.CallsBy(tokens[i]), "iteration %d: caller %d", it, i)
			assert.Equal(t, "private, no-store", res.header.Get("Cache-Control"))
		}
	}
}

// marker is a value no code path has a reason to produce.
func newMarker(t *testing.T) string {
	var b [8]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return "SECRET_MARKER_" + hex.EncodeToString(b[:])
}

// TestSecretMarkerNeverLeaves: a secret sent as a credential the upstream
// refuses or echoes, or as an id, a cursor or a date the sales schema
// checks, appears in no response and no log line. (gqlhttp's own test
// sends it everywhere else a request can carry it.)
func TestSecretMarkerNeverLeaves(t *testing.T) {
	marker := newMarker(t)
	var logs syncBuffer
	e := newSecureEnv(t, withGraph(func(o *graph.Options) {
		o.ForwardHeaders = []string{"Authorization", "X-Api-Key"}
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}))
	m := marker
	long := marker + strings.Repeat("Z", 60)
	bearer := "Bearer " + marker
	e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/3/*", Credential: bearer, Kind: fakeapi.FaultMalformedJSON})
	e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/4/*", Credential: bearer, Kind: fakeapi.FaultStatus, Status: 500})
	e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/5/*", Credential: bearer, Kind: fakeapi.FaultErrorEnvelope, Status: 403})
	e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/6/*", Kind: fakeapi.FaultStatus, Status: 502})
	q := func(query string, vars map[string]any, headers ...string) *http.Request {
		return postReq(body(query, vars), headers...)
	}
	const meetings = `query($v: ID!) { user(id: $v) { meetings { totalCount } } }`
	paths := map[string]*http.Request{
		"credential refused upstream":  q(`{ user(id: "1") { meetings { totalCount } } }`, nil, "Authorization", bearer),
		"credential, malformed answer": q(`{ user(id: "3") { meetings { totalCount } } }`, nil, "Authorization", bearer),
		"credential, upstream 500":     q(`{ user(id: "4") { threads { totalCount } } }`, nil, "Authorization", bearer),
		"credential, error envelope":   q(`{ user(id: "5") { meetings { totalCount } } }`, nil, "Authorization", bearer),
		"bare credential":              q(`{ user(id: "1") { meetings { totalCount } } }`, nil, "Authorization", marker),
		"forwarded key":                q(`{ user(id: "6") { meetings { totalCount } } }`, nil, "X-Api-Key", m),
		"id literal":                   q(`{ user(id: "`+m+`") { id } }`, nil),
		"long id literal, cut short":   q(`{ user(id: "`+long+`") { id } }`, nil),
		"id variable":                  q(meetings, map[string]any{"v": m}),
		"long id variable":             q(meetings, map[string]any{"v": long}),
		"ids variable":                 q(`query($v: [ID!]!) { users(ids: $v) { id } }`, map[string]any{"v": []string{"1", m}}),
		"global id":                    q(`query($v: ID!) { node(id: $v) { globalId } }`, map[string]any{"v": m}),
		"cursor":                       q(`query($v: String) { user(id: "1") { meetings(after: $v) { totalCount } } }`, map[string]any{"v": m}),
		"date variable":                q(`query($v: MeetingFilter) { user(id: "1") { meetings(filter: $v) { totalCount } } }`, map[string]any{"v": map[string]any{"startFrom": m}}),
		"variable default":             q(`query($v: ID = "`+m+`") { user(id: $v) { id } }`, nil),
	}
	for name, req := range paths {
		for _, accept := range []string{"", "application/json"} {
			r := req
			if accept != "" {
				r = req.Clone(req.Context())
				r.Header.Set("Accept", accept)
				if req.Body != nil {
					b, _ := readAllReset(req)
					r.Body = b
				}
			}
			res := e.send(r)
			assert.True(t, res.isJSON, "%s: %s", name, res.body)
			assert.NotEmpty(t, res.errors, "%s takes an error path: %s", name, res.body)
			for _, er := range res.errors {
				assert.NotEmpty(t, er.code(), "%s", name)
			}
			assert.NotContains(t, string(res.body), marker, "%s: response body", name)
			assert.NotContains(t, string(res.body), marker[:20], "%s: response body", name)
			for k, vs := range res.header {
				for _, v := range vs {
					assert.NotContains(t, v, marker, "%s: header %s", name, k)
				}
			}
		}
	}
	assert.NotEmpty(t, logs.String(), "the handler logged something to search")
	for _, line := range strings.Split(logs.String(), "\n") {
		assert.NotContains(t, line, marker[:20], "log line")
	}
}

// TestShortInvalidValuesAreNotEchoed: ids such as "-1" and "7/../8", as
// literals and as variables, are refused with BAD_USER_INPUT naming the
// argument, before any upstream call, and no error holds the value: the
// docs say a request's values are removed from messages, and these were
// quoted back because they are short.
func TestShortInvalidValuesAreNotEchoed(t *testing.T) {
	e := newEnv(t)
	for _, v := range []string{"-1", "7/../8"} {
		lit := `"` + v + `"`
		const userMessage = "must be a user id, a positive integer such as 7"
		const threadMessage = "must be a thread id, a positive integer such as 3161"
		cases := []struct {
			name, query string
			vars        map[string]any
			message     string
		}{
			{"user id", `{ user(id: ` + lit + `) { id } }`, nil, "id " + userMessage},
			{"user id variable", `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": v}, "id " + userMessage},
			{"users ids", `{ users(ids: ["1", ` + lit + `]) { id } }`, nil, "ids[1] " + userMessage},
			{"users ids variable", `query($ids: [ID!]!) { users(ids: $ids) { id } }`, map[string]any{"ids": []string{"1", v}}, "ids[1] " + userMessage},
			{"thread id", `{ user(id: "1") { meetings(filter: {threadId: ` + lit + `}) { totalCount } } }`, nil, "filter.threadId " + threadMessage},
			{"thread id variable", `query($f: MeetingFilter) { user(id: "1") { meetings(filter: $f) { totalCount } } }`,
				map[string]any{"f": map[string]any{"threadId": v}}, "filter.threadId (variable $f) " + threadMessage},
			{"global id", `{ node(id: ` + lit + `) { globalId } }`, nil, "id is not a global id issued by this API"},
			{"global id variable", `query($id: ID!) { node(id: $id) { globalId } }`, map[string]any{"id": v}, "id is not a global id issued by this API"},
			{"global id of a user", `{ node(id: "` + model.EncodeGlobalID("User", v) + `") { globalId } }`, nil, "id is not a global id issued by this API"},
		}
		for _, c := range cases {
			e.upstream.Reset()
			res := e.do(c.query, c.vars, nil)
			require.Len(t, res.Errors, 1, "%s %s", v, c.name)
			er := res.Errors[0]
			assert.Equal(t, graph.CodeBadUserInput, er.code(), "%s %s", v, c.name)
			assert.Equal(t, c.message, er.Message, "%s %s", v, c.name)
			all, err := json.Marshal(res.Errors)
			require.NoError(t, err)
			assert.NotContains(t, string(all), v, "%s %s", v, c.name)
			assert.Zero(t, e.upstream.Calls(), "%s %s", v, c.name)
		}
	}
	// first is an Int: -1 is short too.
	for _, vars := range []map[string]any{nil, {"n": -1}} {
		q := `{ user(id: "1") { meetings(first: -1) { totalCount } } }`
		if vars != nil {
			q = `query($n: Int) { user(id: "1") { meetings(first: $n) { totalCount } } }`
		}
		res := e.do(q, vars, nil)
		require.Len(t, res.Errors, 1)
		assert.Equal(t, "first must be between 0 and 100", res.Errors[0].Message)
	}
}
