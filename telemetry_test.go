package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func postQuery(t *testing.T, url, query string, headers map[string]string) *http.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp
}

func TestServerServesMetricsAndProbes(t *testing.T) {
	base, _ := startServer(t)
	code, body := get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready\nupstream circuit: closed\n", body)

	resp := postQuery(t, base+"/graphql", `query Demo { user(id: "1") { meetings { totalCount } } }`, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	code, body = get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, line := range []string{
		`salesgraph_graphql_operations_total{operation="Demo",outcome="ok"} 1`,
		`salesgraph_upstream_requests_total{endpoint="/api/v1/users/{id}/meetings",result="ok",status_class="2xx"} 1`,
		`salesgraph_dataloader_batch_size_sum{loader="meetings"} 1`,
		`salesgraph_upstream_calls_in_flight 0`,
	} {
		assert.Contains(t, body, line+"\n")
	}
	assert.Contains(t, body, "go_goroutines ")
}

func TestStartupSummaryIsCompleteAndRedacted(t *testing.T) {
	secrets := []string{"upstream-secret-9911", "pw-secret-3377", "otel-secret-5544", "collector-pw-8822", "qs-secret-6600"}
	env := envMap(map[string]string{
		"SALESGRAPH_UPSTREAM_AUTHORIZATION": "Bearer upstream-secret-9911",
		"OTEL_EXPORTER_OTLP_HEADERS":        "api-key=otel-secret-5544,x-tenant=acme",
		"OTEL_EXPORTER_OTLP_ENDPOINT":       "https://collector:collector-pw-8822@otel.example.com:4318/?token=qs-secret-6600",
	})
	var logs bytes.Buffer
	// The upstream URL carries a password: the client refuses it, after the
	// summary is logged, which ends run before it listens.
	err := run(context.Background(), []string{"-log-format", "json", "-listen-addr", "127.0.0.1:0",
		"-upstream-url", "https://svc:pw-secret-3377@crm.example.com/"}, env, nil, io.Discard, &logs, nil)
	require.Error(t, err)
	all := logs.String()
	for _, s := range secrets {
		assert.NotContains(t, all, s)
	}
	assert.NotContains(t, err.Error(), "pw-secret-3377")

	var summary map[string]any
	for _, l := range strings.Split(strings.TrimSpace(all), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if m["msg"] == "configuration" {
			summary = m
		}
	}
	require.NotNil(t, summary, all)
	// config's Summary, whose completeness config's tests prove, plus
	// the tracing exporter chosen.
	upstream := summary["upstream"].(map[string]any)
	assert.Equal(t, "[REDACTED]", upstream["authorization"])
	assert.Equal(t, "https://crm.example.com", upstream["url"])
	assert.Equal(t, "10s", upstream["timeout"])
	assert.Equal(t, "Authorization", upstream["authHeader"], "a header name is not a secret")
	assert.Equal(t, "otlp/http", summary["tracing"])
	assert.Equal(t, "https://otel.example.com:4318/", summary["observability"].(map[string]any)["otlpEndpoint"])
	assert.Equal(t, []any{"api-key", "x-tenant"}, summary["observability"].(map[string]any)["otlpHeaders"])
	assert.Equal(t, "/metrics on the API listener", summary["metrics"])
	assert.EqualValues(t, 15, summary["security"].(map[string]any)["maxDepth"], "the limits are printed, not \"(set)\"")
}

// collector is a fake OTLP/HTTP trace receiver.
type collector struct {
	mu  sync.Mutex
	got []*coltracepb.ExportTraceServiceRequest
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	req := &coltracepb.ExportTraceServiceRequest{}
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(b, req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.got = append(c.got, req)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func TestTracesReachAnOTLPCollector(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	t.Cleanup(srv.Close)
	// The OTLP exporter reads its endpoint from the process environment.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "salesgraph-test")

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-listen-addr", "127.0.0.1:0", "-log-level", "error", "-shutdown-delay", "0"}, os.Getenv, nil, io.Discard, io.Discard, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-errc:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp := postQuery(t, "http://"+addr+"/graphql", `query Traced { user(id: "3") { meetings { totalCount } } }`,
		map[string]string{"Traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	require.NoError(t, <-errc, "shutdown flushes the spans")

	col.mu.Lock()
	defer col.mu.Unlock()
	names := map[string]string{} // span name -> trace id
	var service string
	for _, req := range col.got {
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names[s.GetName()] = hex.EncodeToString(s.GetTraceId())
				}
			}
		}
	}
	assert.Equal(t, "salesgraph-test", service, "OTEL_SERVICE_NAME is honoured")
	assert.Equal(t, traceID, names["query Traced"], "the operation span continues the caller's trace")
	assert.Equal(t, traceID, names["GET /api/v1/users/{id}/meetings"])
	assert.Equal(t, traceID, names["dataloader meetings"])
}

// metricValue reads one sample from the text exposition; -1 when absent.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	return -1
}

// TestRetriesAndTheCircuitReachMetricsAndReadiness counts calls rather than
// timing them: the breaker's window and open timeout are far longer than the
// test, and a gate holds the calls that open the circuit until all of them
// are in flight, so that none of them can find the circuit already open
// (which made this test fail about one run in four).
func TestRetriesAndTheCircuitReachMetricsAndReadiness(t *testing.T) {
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	base, _ := startServer(t, "-upstream-url", fake.URL, "-upstream-authorization", fakeapi.DefaultToken,
		"-upstream-breaker-window", "1h", "-upstream-breaker-open-timeout", "1h")
	const meetings = `/api/v1/users/{id}/meetings`
	retry, breaker := restclient.DefaultRetryPolicy(), restclient.DefaultBreakerSettings()

	// A 503 is retried: every attempt after the first is a retry.
	remove := fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusServiceUnavailable})
	postQuery(t, base+"/graphql", `{ user(id: "1") { meetings { totalCount } } }`, nil)
	remove()
	attempts := fake.Calls()
	require.Equal(t, retry.MaxAttempts, attempts, "the 503 was retried up to the policy's attempts")
	require.Less(t, attempts, breaker.MinRequests, "too few calls to open the circuit")
	_, body := get(t, base+"/metrics")
	assert.Equal(t, float64(attempts-1), metricValue(t, body, `salesgraph_upstream_retries_total{endpoint="`+meetings+`"}`))
	assert.Equal(t, float64(attempts), metricValue(t, body, `salesgraph_upstream_requests_total{endpoint="`+meetings+`",result="http_error",status_class="5xx"}`))
	assert.Equal(t, 1.0, metricValue(t, body, `salesgraph_upstream_circuit_state{circuit="upstream",state="closed"}`))
	code, _ := get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code)

	// MinRequests users' failures (500s, not retried) open the circuit;
	// the facade stays ready (issue 13: an outage of the upstream every
	// replica shares must not drain them all) and shows the state. The gate lets no call
	// fail before all of them have passed the breaker.
	n := breaker.MinRequests
	fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusInternalServerError})
	gate := fake.Gate(n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = `"` + strconv.Itoa(i+1) + `"`
	}
	postQuery(t, base+"/graphql", `{ users(ids: [`+strings.Join(ids, ",")+`]) { meetings { totalCount } } }`, nil)
	require.True(t, gate.Wait(0), "all %d calls were in flight at once", n)
	require.Equal(t, attempts+n, fake.Calls())
	_, body = get(t, base+"/metrics")
	assert.Equal(t, 1.0, metricValue(t, body, `salesgraph_upstream_circuit_state{circuit="upstream",state="open"}`))
	assert.Equal(t, 1.0, metricValue(t, body, `salesgraph_upstream_circuit_changes_total{circuit="upstream",state="open"}`))
	assert.Equal(t, -1.0, metricValue(t, body, `salesgraph_upstream_requests_total{endpoint="`+meetings+`",result="circuit_open",status_class="none"}`),
		"no call was refused before the circuit opened")
	code, body = get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code, "readiness does not follow the shared upstream's breaker")
	assert.Equal(t, "ready\nupstream circuit: open\n", body)
	code, _ = get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code, "liveness ignores the upstream")

	// A call while it is open is refused unsent, and counted as such.
	postQuery(t, base+"/graphql", `{ user(id: "21") { meetings { totalCount } } }`, nil)
	assert.Equal(t, attempts+n, fake.Calls(), "nothing more reached the upstream")
	_, body = get(t, base+"/metrics")
	assert.Equal(t, 1.0, metricValue(t, body, `salesgraph_upstream_requests_total{endpoint="`+meetings+`",result="circuit_open",status_class="none"}`))
	assert.Equal(t, float64(attempts+n), metricValue(t, body, `salesgraph_upstream_requests_total{endpoint="`+meetings+`",result="http_error",status_class="5xx"}`),
		"every attempt that reached the upstream, and no other")
}

// TestVersion: -version prints the build (module version, VCS revision and
// time, Go version) whatever else is configured, and /metrics' go_build_info
// carries the same. There was no -version, and go_build_info had no
// revision.
func TestVersion(t *testing.T) {
	env := map[string]string{"SALESGRAPH_DEMO_USERS": "many", "SALESGRAPH_NO_SUCH_SETTING": "x"}
	var stdout strings.Builder
	require.NoError(t, run(context.Background(), []string{"-version"}, envMap(env), envList(env), &stdout, io.Discard, nil))
	build := observe.ReadBuild()
	assert.Equal(t, build.String()+"\n", stdout.String())
	assert.Contains(t, stdout.String(), runtime.Version())
	assert.True(t, strings.HasPrefix(stdout.String(), "salesgraph "+build.Version+" ("), stdout.String())

	base, _ := startServer(t)
	_, body := get(t, base+"/metrics")
	assert.Contains(t, body, `go_build_info{checksum="`+build.Sum+`",goversion="`+build.GoVersion+`",modified="`)
	assert.Contains(t, body, `,revision="`+build.Revision+`",revision_time="`+build.Time+`",version="`+build.Version+`"} 1`)
}

// TestMetricsWhereConfigured: -metrics-addr empty serves /metrics on the
// API's listener, an address on a listener of its own (with the probes),
// and off nowhere; /readyz is on the API's listener in every case.
func TestMetricsWhereConfigured(t *testing.T) {
	for _, tc := range []struct {
		addr      string // -metrics-addr
		onAPI     bool
		ownListen bool
	}{
		{"", true, false},
		{"127.0.0.1:0", false, true},
		{"off", false, false},
	} {
		t.Run("metrics-addr="+tc.addr, func(t *testing.T) {
			s := launch(t, "-log-level", "info", "-metrics-addr", tc.addr)
			defer func() { require.NoError(t, s.stop()) }()
			code, _ := get(t, s.base+"/metrics")
			assert.Equal(t, tc.onAPI, code == http.StatusOK, "/metrics on the API's listener: %d", code)
			code, _ = get(t, s.base+"/readyz")
			assert.Equal(t, http.StatusOK, code)
			line := s.logLine("salesgraph listening")
			require.NotNil(t, line, s.logs.String())
			admin, _ := line["metrics"].(string)
			assert.Equal(t, tc.ownListen, admin != "", "the metrics listener: %q", admin)
			if tc.ownListen {
				code, body := get(t, "http://"+admin+"/metrics")
				assert.Equal(t, http.StatusOK, code)
				assert.Contains(t, body, "salesgraph_upstream_calls_in_flight 0")
			}
		})
	}
}
