package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

const nestedQuery = `query Nested($ids: [ID!]!) { users(ids: $ids) { id meetings(first: 100) { nodes { id thread { id name } } } } }`

func TestMetricsMoveByExactAmounts(t *testing.T) {
	o := newObserved(t)
	ids := []string{"1", "2", "3"}
	meetingsEndpoint := map[string]string{"endpoint": restclient.EndpointUserMeetings}
	threadsEndpoint := map[string]string{"endpoint": restclient.EndpointUserThreads}

	// Two runs of one named operation.
	for range 2 {
		res := o.do(nestedQuery, map[string]any{"ids": ids}, nil)
		require.Empty(t, res.Errors)
	}
	meetingCalls := o.upstream.CallsTo("/api/v1/users/*/meetings")
	threadCalls := o.upstream.CallsTo("/api/v1/users/*/threads")
	require.Equal(t, 2*len(ids), meetingCalls, "one meetings call per user per operation")

	s := scrape(t, o.metrics)
	assert.Equal(t, 2.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": "Nested", "outcome": "ok"}))
	count, _ := s.histogram("salesgraph_graphql_operation_duration_seconds", map[string]string{"operation": "Nested", "outcome": "ok"})
	assert.EqualValues(t, 2, count)
	assert.Equal(t, float64(meetingCalls), s.value("salesgraph_upstream_requests_total", map[string]string{"endpoint": restclient.EndpointUserMeetings, "status_class": "2xx", "result": "ok"}))
	assert.Equal(t, float64(threadCalls), s.value("salesgraph_upstream_requests_total", map[string]string{"endpoint": restclient.EndpointUserThreads, "status_class": "2xx", "result": "ok"}))
	count, _ = s.histogram("salesgraph_upstream_request_duration_seconds", meetingsEndpoint)
	assert.EqualValues(t, meetingCalls, count)
	count, _ = s.histogram("salesgraph_upstream_request_duration_seconds", threadsEndpoint)
	assert.EqualValues(t, threadCalls, count)
	// Every distinct key of an operation is in exactly one batch, so the
	// batch sizes add up to the calls; every other lookup was a cache hit.
	_, sum := s.histogram("salesgraph_dataloader_batch_size", map[string]string{"loader": "meetings"})
	assert.Equal(t, float64(meetingCalls), sum)
	_, sum = s.histogram("salesgraph_dataloader_batch_size", map[string]string{"loader": "threadPages"})
	assert.Equal(t, float64(threadCalls), sum)
	assert.Equal(t, float64(meetingCalls), s.value("salesgraph_cache_lookups_total", map[string]string{"cache": "loader_meetings", "result": "miss"}))
	assert.Equal(t, float64(threadCalls), s.value("salesgraph_cache_lookups_total", map[string]string{"cache": "loader_threadPages", "result": "miss"}))
	assert.Positive(t, s.value("salesgraph_cache_lookups_total", map[string]string{"cache": "loader_threadPages", "result": "hit"}),
		"each meeting's thread is found on a page the operation already loads")
	assert.Zero(t, s.value("salesgraph_upstream_calls_in_flight", nil))
	assert.Zero(t, s.value("salesgraph_graphql_operations_in_flight", nil))
	assert.Zero(t, s.value("salesgraph_graphql_errors_total", nil))

	// Failures: an upstream 500 for one of two users (partial), an invalid
	// argument, a document that does not parse and one that does not
	// validate (no data at all), each exactly once.
	o.upstream.Reset()
	o.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultStatus, Status: 500})
	res := o.do(`query Failing { a: user(id: "1") { meetings { totalCount } } b: user(id: "2") { meetings { totalCount } } }`, nil, nil)
	require.Len(t, res.Errors, 1)
	require.Equal(t, graph.CodeUpstreamUnavailable, res.Errors[0].code())
	failedAttempts := o.upstream.CallsTo("/api/v1/users/2/meetings")
	require.Positive(t, failedAttempts)
	res = o.do(`{ user(id: "abc") { meetings { totalCount } } }`, nil, nil)
	require.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
	badInputOutcome := "partial"
	if string(res.Data) == "null" || len(res.Data) == 0 {
		badInputOutcome = "error"
	}
	res = o.do(`{ user(id: "1") {`, nil, nil)
	require.Equal(t, "GRAPHQL_PARSE_FAILED", res.Errors[0].code())
	res = o.do(`query Bad { nope }`, nil, nil)
	require.Equal(t, "GRAPHQL_VALIDATION_FAILED", res.Errors[0].code())

	s = scrape(t, o.metrics)
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": "Failing", "outcome": "partial"}))
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": observe.OpAnonymous, "outcome": badInputOutcome}))
	assert.Equal(t, 2.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": observe.OpInvalid, "outcome": "error"}),
		"the unparseable and the invalid document")
	assert.Equal(t, 6.0, s.value("salesgraph_graphql_operations_total", nil), "six requests, each counted once")
	for code, want := range map[string]float64{
		graph.CodeUpstreamUnavailable: 1,
		graph.CodeBadUserInput:        1,
		"GRAPHQL_PARSE_FAILED":        1,
		"GRAPHQL_VALIDATION_FAILED":   1,
	} {
		assert.Equal(t, want, s.value("salesgraph_graphql_errors_total", map[string]string{"code": code}), code)
	}
	assert.Equal(t, float64(failedAttempts), s.value("salesgraph_upstream_requests_total",
		map[string]string{"endpoint": restclient.EndpointUserMeetings, "status_class": "5xx", "result": "http_error"}))
	assert.Equal(t, float64(meetingCalls+1), s.value("salesgraph_upstream_requests_total",
		map[string]string{"endpoint": restclient.EndpointUserMeetings, "status_class": "2xx"}), "user 1's meetings in Failing")

	// The Go runtime and process collectors are on the same registry.
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds", "go_build_info"} {
		assert.Contains(t, s, name)
	}
}

func TestInFlightGaugesDuringAnOperation(t *testing.T) {
	m := observe.NewMetrics()
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	client, err := restclient.New(fake.URL)
	require.NoError(t, err)
	up := &blockingUpstream{Upstream: client, arrived: make(chan struct{}, 8), release: make(chan struct{})}
	h := graph.NewHandler(graph.Options{Upstream: up, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	e := &env{t: t, handler: h, upstream: fake}

	done := make(chan *gqlResponse)
	go func() {
		done <- e.do(`{ users(ids: ["1", "2", "3"]) { meetings { totalCount } } }`, nil, nil)
	}()
	for range 3 {
		<-up.arrived
	}
	s := scrape(t, m)
	assert.Equal(t, 3.0, s.value("salesgraph_upstream_calls_in_flight", nil))
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_in_flight", nil))
	close(up.release)
	res := <-done
	require.Empty(t, res.Errors)
	s = scrape(t, m)
	assert.Zero(t, s.value("salesgraph_upstream_calls_in_flight", nil))
	assert.Zero(t, s.value("salesgraph_graphql_operations_in_flight", nil))
}

// blockingUpstream holds every meetings call until released, telling the
// test as each arrives.
type blockingUpstream struct {
	graph.Upstream
	arrived chan struct{}
	release chan struct{}
}

func (b *blockingUpstream) UserList(ctx context.Context, list restclient.AnyList, id int64, page int) (restclient.Records, error) {
	if list == restclient.Meetings {
		b.arrived <- struct{}{}
		<-b.release
	}
	return b.Upstream.UserList(ctx, list, id, page)
}

func TestOperationNameLabelsAreBounded(t *testing.T) {
	m := observe.NewMetrics(observe.WithMaxOperationNames(2))
	e := newEnv(t, withGraph(func(g *graph.Options) {
		g.Metrics = m
		g.Logger = slog.New(slog.DiscardHandler)
	}))
	for i := range 5 {
		res := e.do(fmt.Sprintf(`query Op%d { user(id: "1") { id } }`, i), nil, nil)
		require.Empty(t, res.Errors)
	}
	res := e.do(`query Op0 { user(id: "1") { id } }`, nil, nil)
	require.Empty(t, res.Errors)
	s := scrape(t, m)
	assert.Equal(t, 2.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": "Op0"}), "a name seen before the cap keeps its label")
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": "Op1"}))
	assert.Equal(t, 3.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": observe.OpOther}))
	n, err := testutil.GatherAndCount(m.Registry(), "salesgraph_graphql_operations_total")
	require.NoError(t, err)
	assert.Equal(t, 3, n, "Op0, Op1 and other: five names, three series")
}

// span tree helpers

func spansByID(spans tracetest.SpanStubs) map[trace.SpanID]tracetest.SpanStub {
	out := make(map[trace.SpanID]tracetest.SpanStub, len(spans))
	for _, s := range spans {
		out[s.SpanContext.SpanID()] = s
	}
	return out
}

// descendsFrom reports whether s has ancestor among its parents.
func descendsFrom(s tracetest.SpanStub, ancestor trace.SpanID, byID map[trace.SpanID]tracetest.SpanStub) bool {
	for i := 0; i < 100; i++ {
		p := s.Parent.SpanID()
		if p == ancestor {
			return true
		}
		next, ok := byID[p]
		if !ok {
			return false
		}
		s = next
	}
	return false
}

func attr(s tracetest.SpanStub, key string) (any, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.AsInterface(), true
		}
	}
	return nil, false
}

func TestSpanTreeOfANestedQuery(t *testing.T) {
	o := newObserved(t)
	const (
		callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		callerSpan  = "00f067aa0ba902b7"
	)
	ids := []string{"1", "2", "3"}
	body, err := json.Marshal(map[string]any{"query": nestedQuery, "variables": map[string]any{"ids": ids}})
	require.NoError(t, err)
	rec := o.post(string(body), map[string]string{
		"Authorization": fakeapi.DefaultToken,
		"Traceparent":   "00-" + callerTrace + "-" + callerSpan + "-01",
	})
	require.Equal(t, http.StatusOK, rec.Code)
	require.NotContains(t, rec.Body.String(), `"errors"`)

	spans := o.spans.GetSpans()
	byID := spansByID(spans)
	var ops, clients, batches []tracetest.SpanStub
	for _, s := range spans {
		assert.Equal(t, callerTrace, s.SpanContext.TraceID().String(), "span %q continues the caller's trace", s.Name)
		switch {
		case s.SpanKind == trace.SpanKindServer:
			ops = append(ops, s)
		case s.SpanKind == trace.SpanKindClient:
			clients = append(clients, s)
		case strings.HasPrefix(s.Name, "dataloader "):
			batches = append(batches, s)
		default:
			t.Errorf("unexpected span %q: resolver spans are off unless asked for", s.Name)
		}
	}

	// One operation span, child of the caller's span.
	require.Len(t, ops, 1)
	op := ops[0]
	assert.Equal(t, "query Nested", op.Name)
	assert.Equal(t, callerSpan, op.Parent.SpanID().String())
	assert.True(t, op.Parent.IsRemote())
	name, _ := attr(op, "graphql.operation.name")
	assert.Equal(t, "Nested", name)
	calls, _ := attr(op, "salesgraph.upstream_calls")
	assert.EqualValues(t, o.upstream.Calls(), calls)

	// One client span per upstream request, each below the operation.
	require.Len(t, clients, o.upstream.Calls())
	for _, c := range clients {
		assert.Contains(t, []string{"GET " + restclient.EndpointUserMeetings, "GET " + restclient.EndpointUserThreads}, c.Name)
		status, _ := attr(c, "http.response.status_code")
		assert.EqualValues(t, 200, status)
		assert.True(t, descendsFrom(c, op.SpanContext.SpanID(), byID), "client span %q below the operation span", c.Name)
		parent, ok := byID[c.Parent.SpanID()]
		require.True(t, ok)
		assert.True(t, strings.HasPrefix(parent.Name, "dataloader "), "an upstream call's parent is its batch, got %q", parent.Name)
	}

	// Batch spans say how many keys they carried: one per user for meetings.
	meetingKeys := int64(0)
	for _, b := range batches {
		assert.True(t, descendsFrom(b, op.SpanContext.SpanID(), byID))
		if b.Name == "dataloader meetings" {
			n, _ := attr(b, "dataloader.batch_size")
			meetingKeys += n.(int64)
		}
	}
	assert.EqualValues(t, len(ids), meetingKeys)

	// The trace context went upstream: each request's traceparent names the
	// caller's trace and that request's own client span.
	sent := o.sent.headers()
	require.Len(t, sent, len(clients))
	clientIDs := map[string]bool{}
	for _, c := range clients {
		clientIDs[c.SpanContext.SpanID().String()] = true
	}
	for _, h := range sent {
		parts := strings.Split(h.Get("Traceparent"), "-")
		require.Len(t, parts, 4, "traceparent %q", h.Get("Traceparent"))
		assert.Equal(t, callerTrace, parts[1])
		assert.True(t, clientIDs[parts[2]], "parent id %s is one of the client spans", parts[2])
		delete(clientIDs, parts[2])
		assert.Equal(t, rec.Header().Get("X-Request-Id"), h.Get("X-Request-Id"), "the request id goes upstream")
	}
	assert.Empty(t, clientIDs, "every client span's id was sent exactly once")
}

func TestResolverSpansOnlyWhenAskedFor(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	e := newEnv(t, withGraph(func(g *graph.Options) {
		g.Tracing = observe.NewTracing(tp, observe.WithResolverSpans(true))
		g.Logger = slog.New(slog.DiscardHandler)
	}))
	res := e.do(`{ users(ids: ["1", "2"]) { id meetings(first: 1) { totalCount } } }`, nil, nil)
	require.Empty(t, res.Errors)
	names := map[string]int{}
	for _, s := range exp.GetSpans() {
		names[s.Name]++
	}
	assert.Equal(t, 1, names["Query.users"])
	assert.Equal(t, 2, names["User.meetings"], "one per user")
	assert.Zero(t, names["User.id"], "trivial fields get no span")
	assert.Equal(t, 1, names["query"], "the anonymous operation's span")
}

func TestTraceContextPassesThroughWhenTracingIsOff(t *testing.T) {
	sent := &capture{next: restclient.NewTransport(0)}
	e := newEnv(t,
		withClient(restclient.WithHTTPClient(&http.Client{Transport: observe.NewTransport(sent, observe.NewTracing(nil), restclient.ErrorType)})),
		withGraph(func(g *graph.Options) {
			g.Tracing = observe.NewTracing(nil)
			g.Logger = slog.New(slog.DiscardHandler)
		}))
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	rec := e.post(`{"query":"{ user(id: \"1\") { meetings { totalCount } } }"}`, map[string]string{"Authorization": fakeapi.DefaultToken, "Traceparent": tp})
	require.Equal(t, http.StatusOK, rec.Code)
	rec = e.post(`{"query":"{ user(id: \"2\") { meetings { totalCount } } }"}`, map[string]string{"Authorization": fakeapi.DefaultToken})
	require.Equal(t, http.StatusOK, rec.Code)
	h := sent.headers()
	require.Len(t, h, 2)
	assert.Equal(t, tp, h[0].Get("Traceparent"), "an untraced facade forwards the caller's context unchanged")
	assert.Empty(t, h[1].Get("Traceparent"), "and invents none")
}

func TestRequestIDs(t *testing.T) {
	o := newObserved(t)
	cases := []struct {
		name, sent string
		kept       bool
	}{
		{"valid id is kept", "edge-7f3a.client_01", true},
		{"64 characters is the limit", strings.Repeat("a", 64), true},
		{"65 characters is replaced", strings.Repeat("a", 65), false},
		{"spaces are replaced", "two words", false},
		{"quotes are replaced", `x"y`, false},
		{"absent is generated", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o.upstream.Reset()
			o.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/9/meetings", Kind: fakeapi.FaultStatus, Status: 404})
			before := len(o.sent.headers())
			headers := map[string]string{"Authorization": fakeapi.DefaultToken}
			if c.sent != "" {
				headers["X-Request-ID"] = c.sent
			}
			rec := o.post(`{"query":"{ user(id: \"9\") { meetings { totalCount } } }"}`, headers)
			id := rec.Header().Get("X-Request-Id")
			if c.kept {
				assert.Equal(t, c.sent, id)
			} else {
				assert.Regexp(t, `^[0-9a-f]{24}$`, id)
			}
			var res gqlResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
			require.Len(t, res.Errors, 1)
			assert.Equal(t, id, res.Errors[0].Extensions["requestId"], "in the error's extensions")
			sent := o.sent.headers()[before:]
			require.NotEmpty(t, sent)
			for _, h := range sent {
				assert.Equal(t, id, h.Get("X-Request-Id"), "sent upstream")
			}
			var logged bool
			for _, l := range o.logs.lines(t) {
				if l["msg"] == "graphql operation" && l["requestId"] == id {
					logged = true
				}
			}
			assert.True(t, logged, "in the operation's log line")
		})
	}
}

// secrets that must never reach a log line.
const (
	callerSecret = "Bearer caller-secret-4f9a1c"
	wrongSecret  = "Bearer wrong-secret-0b1d2e"
	staticSecret = "Bearer static-secret-77c1aa"
)

func TestLogsThroughEveryErrorPath(t *testing.T) {
	logs := &syncBuffer{}
	logger := jsonLogger(logs, slog.LevelDebug)
	// Every case gets its own upstream and client, so that no failure of
	// one (a circuit breaker's count, say) changes the next.
	main := func(t *testing.T) *env {
		return newEnv(t, withFake(fakeapi.WithTokens(callerSecret)), withGraph(func(g *graph.Options) { g.Logger = logger }))
	}
	static := func(t *testing.T) *env {
		return newEnv(t, withFake(fakeapi.WithTokens(staticSecret)),
			withClient(restclient.WithCredentials(http.Header{"Authorization": {staticSecret}})),
			withGraph(func(g *graph.Options) { g.Logger = logger }))
	}
	slow := func(t *testing.T) *env {
		return newEnv(t, withFake(fakeapi.WithTokens(callerSecret)), withClient(restclient.WithTimeout(100*time.Millisecond)),
			withGraph(func(g *graph.Options) { g.Logger = logger }))
	}
	panicky := func(t *testing.T) *env {
		fake := fakeapi.NewServer(fakeapi.WithTokens(callerSecret))
		t.Cleanup(fake.Close)
		client, err := restclient.New(fake.URL)
		require.NoError(t, err)
		return &env{t: t, upstream: fake, handler: graph.NewHandler(graph.Options{Upstream: panicUpstream{client}, Logger: logger})}
	}

	meetings := `{ user(id: "5") { meetings { totalCount } } }`
	caller := map[string]string{"Authorization": callerSecret}
	cases := []struct {
		name     string
		e        func(*testing.T) *env
		fault    *fakeapi.Fault
		body     string
		method   string
		headers  map[string]string
		cancel   bool
		refused  bool   // refused before any operation: the codes depend on the transport
		code     string // "" for none
		upstream bool   // a failed upstream call is logged at warn
	}{
		{name: "ok", e: main, body: meetings, headers: caller},
		{name: "invalid argument", e: main, body: `{ user(id: "x") { id } }`, headers: caller, code: graph.CodeBadUserInput},
		{name: "unparseable", e: main, body: `{ user(id: `, headers: caller, code: "GRAPHQL_PARSE_FAILED"},
		{name: "invalid document", e: main, body: `{ nope }`, headers: caller, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "no credential", e: main, body: meetings, code: graph.CodeUnauthenticated, upstream: true},
		{name: "wrong credential", e: main, body: meetings, headers: map[string]string{"Authorization": wrongSecret}, code: graph.CodeForbidden, upstream: true},
		{name: "upstream 400", e: main, fault: &fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 400}, body: meetings, headers: caller, code: graph.CodeBadUserInput, upstream: true},
		{name: "upstream 429", e: main, fault: &fakeapi.Fault{Kind: fakeapi.FaultRateLimit, RetryAfter: "3600"}, body: meetings, headers: caller, code: graph.CodeUpstreamRateLimited, upstream: true},
		{name: "upstream 500", e: main, fault: &fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500}, body: meetings, headers: caller, code: graph.CodeUpstreamUnavailable, upstream: true},
		{name: "upstream 404", e: main, fault: &fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 404}, body: meetings, headers: caller, code: graph.CodeUpstreamError, upstream: true},
		{name: "upstream error envelope", e: main, fault: &fakeapi.Fault{Kind: fakeapi.FaultErrorEnvelope, Status: 500}, body: meetings, headers: caller, code: graph.CodeUpstreamUnavailable, upstream: true},
		{name: "timeout", e: slow, fault: &fakeapi.Fault{Kind: fakeapi.FaultDelay, Delay: time.Minute}, body: meetings, headers: caller, code: graph.CodeUpstreamTimeout, upstream: true},
		{name: "dropped connection", e: main, fault: &fakeapi.Fault{Kind: fakeapi.FaultDropConnection}, body: meetings, headers: caller, code: graph.CodeUpstreamUnreachable, upstream: true},
		{name: "malformed JSON", e: main, fault: &fakeapi.Fault{Kind: fakeapi.FaultMalformedJSON}, body: meetings, headers: caller, code: graph.CodeUpstreamBadResponse, upstream: true},
		{name: "HTML page", e: main, fault: &fakeapi.Fault{Kind: fakeapi.FaultWrongContentType}, body: meetings, headers: caller, code: graph.CodeUpstreamBadResponse, upstream: true},
		{name: "static credential, upstream 500", e: static, fault: &fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500}, body: meetings, code: graph.CodeUpstreamUnavailable, upstream: true},
		{name: "panic", e: panicky, body: meetings, headers: caller, code: graph.CodeInternal},
		{name: "caller went away", e: main, body: meetings, headers: caller, cancel: true, code: graph.CodeCancelled},
		{name: "method refused by the transport", e: main, method: http.MethodPut, body: meetings, headers: caller, refused: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := c.e(t)
			if c.fault != nil {
				e.upstream.Inject(*c.fault)
			}
			body, err := json.Marshal(map[string]any{"query": c.body})
			require.NoError(t, err)
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, "/graphql", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			if c.cancel {
				ctx, cancel := context.WithCancel(req.Context())
				cancel()
				req = req.WithContext(ctx)
			}
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			id := rec.Header().Get("X-Request-Id")
			require.NotEmpty(t, id)
			if c.method == "" && !c.cancel {
				var res gqlResponse
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res), rec.Body.String())
				if c.code != "" {
					require.NotEmpty(t, res.Errors)
				}
				for _, ge := range res.Errors {
					assert.Equal(t, id, ge.Extensions["requestId"], "every error carries the request id: %+v", ge)
				}
			}

			var opLine, warnLine map[string]any
			for _, l := range logs.lines(t) {
				if l["requestId"] != id {
					continue
				}
				switch l["msg"] {
				case "graphql operation":
					require.Nil(t, opLine, "one line per operation")
					opLine = l
				case "upstream call failed":
					warnLine = l
				}
			}
			require.NotNil(t, opLine, "operation line for %s", id)
			for _, k := range []string{"requestId", "operation", "operationType", "outcome", "durationMs", "upstreamCalls", "errors", "errorCodes"} {
				assert.Contains(t, opLine, k)
			}
			assert.Equal(t, "INFO", opLine["level"])
			assert.GreaterOrEqual(t, opLine["durationMs"], 0.0)
			codes, ok := opLine["errorCodes"].([]any)
			require.True(t, ok, "errorCodes is a list: %v", opLine["errorCodes"])
			switch {
			case c.refused:
				assert.Equal(t, "error", opLine["outcome"])
			case c.code == "":
				assert.Empty(t, codes)
				assert.Equal(t, "ok", opLine["outcome"])
			default:
				assert.Contains(t, codes, c.code)
			}
			if c.upstream {
				require.NotNil(t, warnLine, "an upstream failure is logged at warn")
				assert.Equal(t, "WARN", warnLine["level"])
				assert.Equal(t, c.code, warnLine["code"])
				assert.Equal(t, restclient.EndpointUserMeetings, warnLine["endpoint"])
				assert.Equal(t, "/api/v1/users/5/meetings", warnLine["path"])
				assert.EqualValues(t, e.upstream.Calls(), opLine["upstreamCalls"], "every exchange the upstream saw, retries included")
			}
			if c.code == graph.CodeBadUserInput && !c.upstream || strings.HasPrefix(c.code, "GRAPHQL_") {
				assert.EqualValues(t, 0, opLine["upstreamCalls"])
				assert.Zero(t, e.upstream.Calls())
			}
		})
	}

	all := logs.String()
	require.NotEmpty(t, all)
	for _, secret := range []string{callerSecret, wrongSecret, staticSecret} {
		_, token, _ := strings.Cut(secret, " ")
		assert.NotContains(t, all, token, "no credential in any log line")
	}
	assert.NotContains(t, all, "127.0.0.1", "no upstream host in any log line")
}

// panicUpstream is an upstream client with a bug.
type panicUpstream struct{ graph.Upstream }

func (u panicUpstream) UserList(ctx context.Context, list restclient.AnyList, id int64, page int) (restclient.Records, error) {
	if list != restclient.Meetings {
		return u.Upstream.UserList(ctx, list, id, page)
	}
	panic("boom")
}

func TestABatchLogsAndCountsEachOperation(t *testing.T) {
	o := newObserved(t, withGraph(func(g *graph.Options) { g.Security.Batching = true }))
	rec := o.post(`[{"query":"query A { user(id: \"1\") { meetings { totalCount } } }"},
		{"query":"query B { user(id: \"2\") { meetings { totalCount } } }"},
		{"query":"query C { nope }"}]`, map[string]string{"Authorization": fakeapi.DefaultToken})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	id := rec.Header().Get("X-Request-Id")

	var lines []map[string]any
	for _, l := range o.logs.lines(t) {
		if l["msg"] == "graphql operation" && l["requestId"] == id {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 3, "one line per operation of the batch")
	for i, want := range []struct {
		name, outcome string
		calls         int
	}{{"A", "ok", 1}, {"B", "ok", 1}, {"", "error", 0}} { // C never validated: only a name the caller sends as operationName is known
		assert.Equal(t, want.name, lines[i]["operation"])
		assert.Equal(t, want.outcome, lines[i]["outcome"])
		assert.EqualValues(t, want.calls, lines[i]["upstreamCalls"], "each operation of the batch counts its own calls")
		assert.EqualValues(t, i, lines[i]["batchIndex"])
	}
	s := scrape(t, o.metrics)
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": "A", "outcome": "ok"}))
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": "B", "outcome": "ok"}))
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": observe.OpInvalid, "outcome": "error"}))
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_errors_total", map[string]string{"code": "GRAPHQL_VALIDATION_FAILED"}))

	var servers []tracetest.SpanStub
	for _, sp := range o.spans.GetSpans() {
		if sp.SpanKind == trace.SpanKindServer {
			servers = append(servers, sp)
		}
	}
	require.Len(t, servers, 1)
	assert.Equal(t, "GraphQL batch", servers[0].Name)
	assert.Len(t, servers[0].Events, 3)
}

func TestRetriesAreVisibleInTheTrace(t *testing.T) {
	o := newObserved(t)
	// The first attempt fails with a retryable 503, the second succeeds.
	o.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/4/meetings", Kind: fakeapi.FaultStatus, Status: 503, Times: 1})
	res := o.do(`{ user(id: "4") { meetings { totalCount } } }`, nil, nil)
	require.Empty(t, res.Errors, "the retry succeeded")
	require.Equal(t, 2, o.upstream.CallsTo("/api/v1/users/4/meetings"))

	var attempts []tracetest.SpanStub
	for _, s := range o.spans.GetSpans() {
		if s.SpanKind == trace.SpanKindClient {
			attempts = append(attempts, s)
		}
	}
	require.Len(t, attempts, 2, "one span per attempt")
	first, second := attempts[0], attempts[1]
	status, _ := attr(first, "http.response.status_code")
	assert.EqualValues(t, 503, status)
	_, resent := attr(first, "http.request.resend_count")
	assert.False(t, resent)
	n, _ := attr(second, "http.request.resend_count")
	assert.EqualValues(t, 1, n)
	assert.Equal(t, first.Parent.SpanID(), second.Parent.SpanID(), "both under the same batch")
	s := scrape(t, o.metrics)
	assert.Equal(t, 1.0, s.value("salesgraph_upstream_requests_total", map[string]string{"status_class": "5xx"}))
	assert.Equal(t, 1.0, s.value("salesgraph_upstream_requests_total", map[string]string{"status_class": "2xx"}))
}
