package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
)

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc":                    true,
		"A-b_c.9":                true,
		strings.Repeat("x", 64):  true,
		"":                       false,
		strings.Repeat("x", 65):  false,
		"has space":              false,
		"quote\"":                false,
		"new\nline":              false,
		"zażółć":                 false,
		"semi;colon":             false,
		"00-4bf92f3577b34da6-01": true,
	} {
		assert.Equal(t, want, observe.ValidRequestID(id), "%q", id)
	}
}

func TestRequestIDKeepsValidAndReplacesInvalid(t *testing.T) {
	assert.Equal(t, "edge-1", observe.RequestID("edge-1"))
	got := observe.RequestID("bad id")
	assert.Regexp(t, `^[0-9a-f]{24}$`, got)
	assert.NotEqual(t, got, observe.RequestID(""), "fresh ids differ")
}

func TestPathTemplate(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/users/7/meetings":            "/api/v1/users/{id}/meetings",
		"/api/v1/users/123456789/threads":     "/api/v1/users/{id}/threads",
		"/crm/api/v1/users/42/threads":        "/crm/api/v1/users/{id}/threads",
		"/api/v1/users/x7/meetings":           "/api/v1/users/x7/meetings",
		"/api/v1/users/{id}/meetings":         "/api/v1/users/{id}/meetings",
		"/":                                   "/",
		"/api/v1/users/1/threads/2/something": "/api/v1/users/{id}/threads/{id}/something",
	} {
		assert.Equal(t, want, observe.PathTemplate(path), path)
	}
}

func TestNilReceiversDoNothing(t *testing.T) {
	var m *observe.Metrics
	assert.NotPanics(t, func() {
		m.OperationStarted()()
		m.Operation("x", observe.OutcomeOK, time.Second)
		m.GraphQLErrors("X", 1)
		m.UpstreamCall("", 0, "ok", 0)
		m.UpstreamCallStarted()
		m.UpstreamCallDone()
		m.CacheCounter("c")(true)
		m.RetryAttempt("e")
		m.RetryDenied("e", "budget")
		m.CircuitState("c", observe.CircuitOpen)
		m.BatchSize("l", 3)
		m.CacheLookup("c", true)
	})
	assert.Nil(t, m.Registry())
	var tr *observe.Tracing
	assert.False(t, tr.Enabled())
	assert.Equal(t, "none", tr.Exporter())
	ctx := context.Background()
	assert.Equal(t, ctx, tr.Extract(ctx, http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}))
	assert.NoError(t, tr.Shutdown(ctx))
}

func TestOperationLabel(t *testing.T) {
	m := observe.NewMetrics(observe.WithMaxOperationNames(2))
	assert.Equal(t, observe.OpInvalid, m.OperationLabel("Whatever", false))
	assert.Equal(t, observe.OpAnonymous, m.OperationLabel("", true))
	assert.Equal(t, "A", m.OperationLabel("A", true))
	assert.Equal(t, "B", m.OperationLabel("B", true))
	assert.Equal(t, observe.OpOther, m.OperationLabel("C", true), "past the cap")
	assert.Equal(t, "A", m.OperationLabel("A", true), "names already seen keep their label")
	assert.Equal(t, observe.OpOther, observe.NewMetrics().OperationLabel(strings.Repeat("N", 65), true), "absurdly long names")
}

func TestUpstreamCallLabels(t *testing.T) {
	m := observe.NewMetrics()
	ep := restclient.EndpointUserMeetings
	calls := []restclient.CallInfo{
		{Endpoint: ep, HTTPStatus: 200, Duration: 10 * time.Millisecond},
		{Endpoint: ep, HTTPStatus: 200, Duration: 20 * time.Millisecond},
		{Endpoint: ep, HTTPStatus: 503, Err: &restclient.APIError{HTTPStatus: 503}},
		{Endpoint: ep, HTTPStatus: 200, Err: &restclient.DecodeError{HTTPStatus: 200, Err: errors.New("bad")}},
		{Endpoint: ep, Err: &restclient.TransportError{Err: syscall.ECONNREFUSED}},
		{Endpoint: ep, Err: &restclient.TransportError{Err: fmt.Errorf("x: %w", context.DeadlineExceeded)}},
		{Endpoint: ep, Err: &restclient.TransportError{Err: context.Canceled}},
		{Endpoint: ep, Err: &restclient.CircuitOpenError{Endpoint: ep}},
	}
	for _, c := range calls {
		m.UpstreamCall(c.Endpoint, c.HTTPStatus, restclient.Classify(c.Err).Result(), c.Duration)
	}
	want := `
# HELP salesgraph_upstream_requests_total HTTP requests to the upstream API (each attempt), by endpoint template, status class (2xx..5xx, none when no answer came) and result (ok, http_error, timeout, unreachable, bad_response, cancelled; refused unsent: circuit_open by the circuit breaker, path_ejected by a path's ejection, rate_limited by the facade's rate limit).
# TYPE salesgraph_upstream_requests_total counter
salesgraph_upstream_requests_total{endpoint="/api/v1/users/{id}/meetings",result="bad_response",status_class="2xx"} 1
salesgraph_upstream_requests_total{endpoint="/api/v1/users/{id}/meetings",result="cancelled",status_class="none"} 1
salesgraph_upstream_requests_total{endpoint="/api/v1/users/{id}/meetings",result="circuit_open",status_class="none"} 1
salesgraph_upstream_requests_total{endpoint="/api/v1/users/{id}/meetings",result="http_error",status_class="5xx"} 1
salesgraph_upstream_requests_total{endpoint="/api/v1/users/{id}/meetings",result="ok",status_class="2xx"} 2
salesgraph_upstream_requests_total{endpoint="/api/v1/users/{id}/meetings",result="timeout",status_class="none"} 1
salesgraph_upstream_requests_total{endpoint="/api/v1/users/{id}/meetings",result="unreachable",status_class="none"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "salesgraph_upstream_requests_total"))
	n, err := testutil.GatherAndCount(m.Registry(), "salesgraph_upstream_request_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 3, n, "duration series by endpoint and status class: 2xx, 5xx and none")
}

func TestErrorCodeLabelsAreBounded(t *testing.T) {
	m := observe.NewMetrics()
	m.GraphQLErrors("UPSTREAM_TIMEOUT", 2)
	m.GraphQLErrors("something a plugin made up", 1)
	m.GraphQLErrors("", 1)
	want := `
# HELP salesgraph_graphql_errors_total Errors in GraphQL responses, by extensions.code.
# TYPE salesgraph_graphql_errors_total counter
salesgraph_graphql_errors_total{code="OTHER"} 2
salesgraph_graphql_errors_total{code="UPSTREAM_TIMEOUT"} 2
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "salesgraph_graphql_errors_total"))
}

func TestCircuitStateAndRetries(t *testing.T) {
	m := observe.NewMetrics()
	m.CircuitState("upstream", observe.CircuitClosed)
	m.CircuitState("upstream", observe.CircuitOpen)
	m.CircuitState("upstream", observe.CircuitHalfOpen)
	m.CircuitState("upstream", observe.CircuitHalfOpen) // repeated: no change
	m.RetryAttempt(restclient.EndpointUserThreads)
	m.RetryAttempt(restclient.EndpointUserThreads)
	m.RetryDenied(restclient.EndpointUserThreads, "budget")
	want := `
# HELP salesgraph_upstream_circuit_state 1 for the state each upstream circuit breaker is in (closed, half-open, open), 0 for the others.
# TYPE salesgraph_upstream_circuit_state gauge
salesgraph_upstream_circuit_state{circuit="upstream",state="closed"} 0
salesgraph_upstream_circuit_state{circuit="upstream",state="half-open"} 1
salesgraph_upstream_circuit_state{circuit="upstream",state="open"} 0
# HELP salesgraph_upstream_circuit_changes_total Upstream circuit breaker state changes, by circuit and the state entered.
# TYPE salesgraph_upstream_circuit_changes_total counter
salesgraph_upstream_circuit_changes_total{circuit="upstream",state="half-open"} 1
salesgraph_upstream_circuit_changes_total{circuit="upstream",state="open"} 1
# HELP salesgraph_upstream_retries_total Upstream requests sent again after a failed attempt, by endpoint template.
# TYPE salesgraph_upstream_retries_total counter
salesgraph_upstream_retries_total{endpoint="/api/v1/users/{id}/threads"} 2
# HELP salesgraph_upstream_retries_denied_total Retryable upstream failures returned without a retry, by endpoint template and reason (attempts, budget, deadline, retry_after).
# TYPE salesgraph_upstream_retries_denied_total counter
salesgraph_upstream_retries_denied_total{endpoint="/api/v1/users/{id}/threads",reason="budget"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"salesgraph_upstream_circuit_state", "salesgraph_upstream_circuit_changes_total",
		"salesgraph_upstream_retries_total", "salesgraph_upstream_retries_denied_total"))
}

func TestMetricsRegistriesAreSeparate(t *testing.T) {
	a, b := observe.NewMetrics(), observe.NewMetrics()
	a.RetryAttempt("x")
	n, err := testutil.GatherAndCount(b.Registry(), "salesgraph_upstream_retries_total")
	require.NoError(t, err)
	assert.Zero(t, n)
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `salesgraph_upstream_retries_total{endpoint="x"} 1`)
	assert.Contains(t, rec.Body.String(), "go_goroutines")
	assert.Contains(t, rec.Body.String(), "process_cpu_seconds_total")
}

func TestProbes(t *testing.T) {
	p := observe.NewProbes()
	get := func(h http.Handler) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Code, rec.Body.String()
	}
	code, body := get(p.Readiness())
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready: starting\n", body)
	code, _ = get(p.Liveness())
	assert.Equal(t, http.StatusOK, code, "alive even when not ready")

	p.SetServing(true)
	circuitOpen := false
	p.AddCheck("upstream circuit open", func() bool { return !circuitOpen })
	code, body = get(p.Readiness())
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready\n", body)

	circuitOpen = true
	code, body = get(p.Readiness())
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready: upstream circuit open\n", body)
	code, _ = get(p.Liveness())
	assert.Equal(t, http.StatusOK, code, "an upstream outage never fails liveness")

	circuitOpen = false
	p.SetServing(false)
	code, body = get(p.Readiness())
	assert.Equal(t, http.StatusServiceUnavailable, code, "draining")
	assert.Equal(t, "not ready: draining\n", body, "a draining server says so, not that it is not serving")
}

// headerRecorder is an upstream that keeps the headers it received.
type headerRecorder struct {
	mu     sync.Mutex
	got    []http.Header
	status int
}

func (h *headerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.got = append(h.got, r.Header.Clone())
	h.mu.Unlock()
	w.WriteHeader(h.status)
	_, _ = io.WriteString(w, `{"status":200,"data":{"list":[]}}`)
}

func newTracing(t *testing.T) (*observe.Tracing, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return observe.NewTracing(tp), exp
}

func TestTransportMakesAClientSpanAndPropagates(t *testing.T) {
	up := &headerRecorder{status: http.StatusOK}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	tracing, exp := newTracing(t)
	client := &http.Client{Transport: observe.NewTransport(nil, tracing, restclient.ErrorType)}

	ctx, parent := tracing.Tracer().Start(context.Background(), "operation")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/users/7/meetings?page=2", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	parent.End()

	assert.Empty(t, req.Header.Get("Traceparent"), "the caller's request is not modified")
	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	c := spans[0]
	assert.Equal(t, "GET /api/v1/users/{id}/meetings", c.Name)
	assert.Equal(t, trace.SpanKindClient, c.SpanKind)
	assert.Equal(t, parent.SpanContext().SpanID(), c.Parent.SpanID())
	attrs := map[string]any{}
	for _, kv := range c.Attributes {
		attrs[string(kv.Key)] = kv.Value.AsInterface()
	}
	assert.Equal(t, map[string]any{
		"http.request.method":       "GET",
		"url.template":              "/api/v1/users/{id}/meetings",
		"url.path":                  "/api/v1/users/7/meetings",
		"http.response.status_code": int64(200),
	}, attrs, "no host, query or header")
	require.Len(t, up.got, 1)
	assert.Equal(t, fmt.Sprintf("00-%s-%s-01", c.SpanContext.TraceID(), c.SpanContext.SpanID()), up.got[0].Get("Traceparent"))
	assert.Equal(t, "Bearer s3cret", up.got[0].Get("Authorization"), "other headers are sent as they were")
}

func TestTransportRecordsFailures(t *testing.T) {
	up := &headerRecorder{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	tracing, exp := newTracing(t)
	client := &http.Client{Transport: observe.NewTransport(nil, tracing, restclient.ErrorType)}

	resp, err := client.Get(srv.URL + "/api/v1/users/1/threads")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	// A port nothing listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = client.Get(closed + "/api/v1/users/1/threads")
	require.Error(t, err)

	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	assert.Equal(t, codes.Error, spans[0].Status.Code)
	assert.Equal(t, codes.Error, spans[1].Status.Code)
	assert.Equal(t, "connection_refused", spans[1].Status.Description)
	for _, s := range spans {
		for _, kv := range s.Attributes {
			assert.NotContains(t, kv.Value.Emit(), "127.0.0.1", "no host in %s", kv.Key)
		}
		assert.NotContains(t, s.Status.Description, "127.0.0.1")
	}
}

func TestTransportPassesCallerContextThroughWhenOff(t *testing.T) {
	up := &headerRecorder{status: http.StatusOK}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	off := observe.NewTracing(nil)
	require.False(t, off.Enabled())
	client := &http.Client{Transport: observe.NewTransport(nil, off, restclient.ErrorType)}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := off.Extract(context.Background(), http.Header{"Traceparent": {tp}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/x", nil)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	resp, err = client.Get(srv.URL + "/y")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Len(t, up.got, 2)
	assert.Equal(t, tp, up.got[0].Get("Traceparent"))
	assert.Empty(t, up.got[1].Get("Traceparent"))
}

func TestTracingFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	ctx := context.Background()
	cases := []struct {
		name     string
		env      map[string]string
		exporter string
		enabled  bool
		err      string
	}{
		{name: "off by default", env: nil, exporter: "none"},
		{name: "an OTLP endpoint turns it on", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, exporter: "otlp/http", enabled: true},
		{name: "traces endpoint too", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces"}, exporter: "otlp/http", enabled: true},
		{name: "console", env: map[string]string{"OTEL_TRACES_EXPORTER": "console"}, exporter: "console", enabled: true},
		{name: "none wins over an endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1"}, exporter: "none"},
		{name: "SDK disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, exporter: "none"},
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTEL_TRACES_EXPORTER"},
		{name: "unknown protocol", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, err: "protocol"},
		{name: "unknown propagator", env: map[string]string{"OTEL_PROPAGATORS": "b3"}, err: "OTEL_PROPAGATORS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := observe.TracingFromEnv(ctx, env(c.env), io.Discard, nil, "test")
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = tr.Shutdown(ctx) })
			assert.Equal(t, c.exporter, tr.Exporter())
			assert.Equal(t, c.enabled, tr.Enabled())
		})
	}
}

func TestConsoleExporterWritesSpansOnShutdown(t *testing.T) {
	var out bytes.Buffer
	tr, err := observe.TracingFromEnv(context.Background(), func(k string) string {
		return map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "sg-test"}[k]
	}, &out, nil, "v1.2.3")
	require.NoError(t, err)
	_, span := tr.Tracer().Start(context.Background(), "hello")
	span.End()
	require.NoError(t, tr.Shutdown(context.Background()))
	var got struct {
		Name     string
		Resource []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	require.NoError(t, json.NewDecoder(&out).Decode(&got), out.String())
	assert.Equal(t, "hello", got.Name)
	res := map[string]any{}
	for _, kv := range got.Resource {
		res[kv.Key] = kv.Value.Value
	}
	assert.Equal(t, "v1.2.3", res["service.version"])
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var out bytes.Buffer
	h, err := observe.NewLogHandler(&out, "json", slog.LevelInfo)
	require.NoError(t, err)
	log := slog.New(h).With("component", "test")
	tracing, _ := newTracing(t)
	ctx, span := tracing.Tracer().Start(context.Background(), "op")
	log.InfoContext(ctx, "inside")
	span.End()
	log.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	var in, outside map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &in))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &outside))
	assert.Equal(t, span.SpanContext().TraceID().String(), in["traceId"])
	assert.Equal(t, span.SpanContext().SpanID().String(), in["spanId"])
	assert.Equal(t, "test", in["component"])
	assert.NotContains(t, outside, "traceId")
	_, err = observe.NewLogHandler(&out, "xml", slog.LevelInfo)
	assert.Error(t, err)
}

// TestExtractReadsEachPropagatorsFields: the trace context and the
// baggage are each continued from their own header alone, and a request
// with neither is left as it came.
func TestExtractReadsEachPropagatorsFields(t *testing.T) {
	tr := observe.NewTracing(nil)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := tr.Extract(context.Background(), http.Header{"Traceparent": {tp}, "Content-Type": {"application/json"}})
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", trace.SpanContextFromContext(ctx).TraceID().String())

	ctx = tr.Extract(context.Background(), http.Header{"Baggage": {"tenant=acme"}})
	assert.Equal(t, "acme", baggage.FromContext(ctx).Member("tenant").Value())
	assert.False(t, trace.SpanContextFromContext(ctx).IsValid())

	bg := context.Background()
	assert.Equal(t, bg, tr.Extract(bg, http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer x"}}))

	only := observe.NewTracing(nil, observe.WithPropagator(propagation.Baggage{}))
	ctx = only.Extract(context.Background(), http.Header{"Traceparent": {tp}, "Baggage": {"tenant=acme"}})
	assert.False(t, trace.SpanContextFromContext(ctx).IsValid(), "not a field of the configured propagator")
	assert.Equal(t, "acme", baggage.FromContext(ctx).Member("tenant").Value())
}

// TestResolvedSeriesCount: operations, APQ lookups and batch sizes are
// counted on the series of their labels, each series appearing on its
// first use only, however often it is used (they are resolved once).
func TestResolvedSeriesCount(t *testing.T) {
	m := observe.NewMetrics()
	for _, name := range []string{"operations_total", "operation_duration_seconds"} {
		n, err := testutil.GatherAndCount(m.Registry(), "salesgraph_graphql_"+name)
		require.NoError(t, err)
		assert.Zero(t, n, "no series before the first operation")
	}
	n, err := testutil.GatherAndCount(m.Registry(), "salesgraph_apq_total", "salesgraph_dataloader_batch_size")
	require.NoError(t, err)
	assert.Zero(t, n)

	for range 3 {
		m.Operation("Q", observe.OutcomeOK, time.Millisecond)
	}
	m.Operation("Q", observe.OutcomeError, time.Millisecond)
	m.Operation(observe.OpAnonymous, observe.OutcomeOK, time.Millisecond)
	m.APQ(observe.APQHit)
	m.APQ(observe.APQHit)
	m.APQ(observe.APQMiss)
	m.BatchSize("meetings", 3)
	m.BatchSize("meetings", 5)
	want := `
# HELP salesgraph_graphql_operations_total GraphQL operations served, by operation name (bounded: anonymous, invalid and other group the rest) and outcome (ok, partial, error).
# TYPE salesgraph_graphql_operations_total counter
salesgraph_graphql_operations_total{operation="Q",outcome="error"} 1
salesgraph_graphql_operations_total{operation="Q",outcome="ok"} 3
salesgraph_graphql_operations_total{operation="anonymous",outcome="ok"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "salesgraph_graphql_operations_total"))
	want = `
# HELP salesgraph_apq_total Automatic persisted query lookups, by result: hit (the hash was known), miss (it was not; the client sends the document next, the protocol's normal first step), registered (a document sent with its hash was checked and remembered). Misses are not counted as operations or errors.
# TYPE salesgraph_apq_total counter
salesgraph_apq_total{result="hit"} 2
salesgraph_apq_total{result="miss"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "salesgraph_apq_total"))
	n, err = testutil.GatherAndCount(m.Registry(), "salesgraph_graphql_operation_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	mfs, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "salesgraph_dataloader_batch_size" {
			require.Len(t, mf.GetMetric(), 1)
			h := mf.GetMetric()[0].GetHistogram()
			assert.Equal(t, uint64(2), h.GetSampleCount())
			assert.Equal(t, 8.0, h.GetSampleSum())
		}
		if mf.GetName() == "salesgraph_graphql_operation_duration_seconds" {
			for _, s := range mf.GetMetric() {
				if s.GetLabel()[0].GetValue() == "Q" && s.GetLabel()[1].GetValue() == "ok" {
					assert.Equal(t, uint64(3), s.GetHistogram().GetSampleCount())
				}
			}
		}
	}
}
