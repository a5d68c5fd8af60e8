package observe

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestOTLPHTTPSettings(t *testing.T) {
	e, err := newOTLPHTTPExporter(envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:4318/v1/traces", e.endpoint, "the specification's default")
	assert.Equal(t, 10*time.Second, e.timeout)

	e, err = newOTLPHTTPExporter(envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":       "https://collector.example.com:4318/otlp/",
		"OTEL_EXPORTER_OTLP_HEADERS":        "Authorization=Bearer%20abc, X-Tenant = one",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "X-Tenant=two",
		"OTEL_EXPORTER_OTLP_TIMEOUT":        "2500",
		"OTEL_EXPORTER_OTLP_COMPRESSION":    "gzip",
	}))
	require.NoError(t, err)
	assert.Equal(t, "https://collector.example.com:4318/otlp/v1/traces", e.endpoint, "the general endpoint is a base for /v1/traces")
	assert.Equal(t, "Bearer abc", e.headers.Get("Authorization"), "values are URL-decoded")
	assert.Equal(t, "two", e.headers.Get("X-Tenant"), "the traces headers win")
	assert.Equal(t, 2500*time.Millisecond, e.timeout)
	assert.True(t, e.gzip)

	e, err = newOTLPHTTPExporter(envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://ignored:4318",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:9999/custom/path",
	}))
	require.NoError(t, err)
	assert.Equal(t, "http://collector:9999/custom/path", e.endpoint, "the traces endpoint is used as given")

	for name, env := range map[string]map[string]string{
		"endpoint":    {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
		"timeout":     {"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"},
		"compression": {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
		"header":      {"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
		"certificate": {"OTEL_EXPORTER_OTLP_CERTIFICATE": "/no/such/ca.pem"},
	} {
		_, err := newOTLPHTTPExporter(envOf(env))
		assert.Error(t, err, name)
	}
}

// receiver is an OTLP/HTTP trace receiver that answers 503 to the first
// failures requests.
type receiver struct {
	failures int

	mu       sync.Mutex
	attempts int
	got      []*coltracepb.ExportTraceServiceRequest
	header   http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if rc.attempts <= rc.failures {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	rc.header = r.Header.Clone()
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(b, req); err != nil || r.URL.Path != "/v1/traces" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, req)
}

// TestOTLPHTTPExport: what the SDK records arrives as the export request
// of OTLP, decoded by the collector's own message type: resource and scope,
// ids, parent, kind, status, attributes of every type, events, links;
// gzipped with the configured headers, after a 503 was retried.
func TestOTLPHTTPExport(t *testing.T) {
	rc := &receiver{failures: 1}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	e, err := newOTLPHTTPExporter(envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":    srv.URL,
		"OTEL_EXPORTER_OTLP_HEADERS":     "X-Tenant=acme",
		"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
	}))
	require.NoError(t, err)

	traceID := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: trace.SpanID{9, 9, 9, 9, 9, 9, 9, 9}, TraceFlags: trace.FlagsSampled, Remote: true})
	linked := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{7}, SpanID: trace.SpanID{7}, TraceFlags: trace.FlagsSampled})
	start := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	stub := tracetest.SpanStub{
		Name:        "query Traced",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: trace.SpanID{1, 1, 1, 1, 1, 1, 1, 1}, TraceFlags: trace.FlagsSampled}),
		Parent:      parent,
		SpanKind:    trace.SpanKindServer,
		StartTime:   start,
		EndTime:     start.Add(42 * time.Millisecond),
		Attributes: []attribute.KeyValue{
			attribute.String("graphql.operation.name", "Traced"), attribute.Int64("calls", 3),
			attribute.Bool("shared", true), attribute.Float64("ratio", 0.5), attribute.StringSlice("codes", []string{"A", "B"}),
		},
		Events:               []sdktrace.Event{{Name: "exception", Time: start.Add(time.Millisecond), Attributes: []attribute.KeyValue{attribute.String("exception.message", "boom")}}},
		Links:                []sdktrace.Link{{SpanContext: linked}},
		Status:               sdktrace.Status{Code: codes.Error, Description: "upstream failed"},
		Resource:             resource.NewSchemaless(attribute.String("service.name", "salesgraph-test")),
		InstrumentationScope: instrumentation.Scope{Name: instrumentationName, Version: "v1"},
	}
	require.NoError(t, e.ExportSpans(context.Background(), tracetest.SpanStubs{stub}.Snapshots()))
	require.NoError(t, e.Shutdown(context.Background()))

	rc.mu.Lock()
	defer rc.mu.Unlock()
	assert.Equal(t, 2, rc.attempts, "the 503 was retried")
	assert.Equal(t, "acme", rc.header.Get("X-Tenant"))
	assert.Equal(t, "application/x-protobuf", rc.header.Get("Content-Type"))
	require.Len(t, rc.got, 1)
	rs := rc.got[0].GetResourceSpans()
	require.Len(t, rs, 1)
	assert.Equal(t, "salesgraph-test", rs[0].GetResource().GetAttributes()[0].GetValue().GetStringValue())
	require.Len(t, rs[0].GetScopeSpans(), 1)
	assert.Equal(t, instrumentationName, rs[0].GetScopeSpans()[0].GetScope().GetName())
	s := rs[0].GetScopeSpans()[0].GetSpans()[0]
	assert.Equal(t, "query Traced", s.GetName())
	assert.Equal(t, traceID[:], s.GetTraceId())
	assert.Equal(t, []byte{9, 9, 9, 9, 9, 9, 9, 9}, s.GetParentSpanId())
	assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, s.GetKind())
	assert.Equal(t, uint64(start.UnixNano()), s.GetStartTimeUnixNano())
	assert.Equal(t, uint64(start.Add(42*time.Millisecond).UnixNano()), s.GetEndTimeUnixNano())
	assert.Equal(t, uint32(0x301), s.GetFlags(), "sampled, with a remote parent")
	assert.Equal(t, tracepb.Status_STATUS_CODE_ERROR, s.GetStatus().GetCode())
	assert.Equal(t, "upstream failed", s.GetStatus().GetMessage())
	attrs := map[string]any{}
	for _, kv := range s.GetAttributes() {
		v := kv.GetValue()
		switch {
		case v.GetArrayValue() != nil:
			var xs []string
			for _, x := range v.GetArrayValue().GetValues() {
				xs = append(xs, x.GetStringValue())
			}
			attrs[kv.GetKey()] = xs
		default:
			attrs[kv.GetKey()] = []any{v.GetStringValue(), v.GetIntValue(), v.GetBoolValue(), v.GetDoubleValue()}
		}
	}
	assert.Equal(t, []any{"Traced", int64(0), false, 0.0}, attrs["graphql.operation.name"])
	assert.Equal(t, []any{"", int64(3), false, 0.0}, attrs["calls"])
	assert.Equal(t, []any{"", int64(0), true, 0.0}, attrs["shared"])
	assert.Equal(t, []any{"", int64(0), false, 0.5}, attrs["ratio"])
	assert.Equal(t, []string{"A", "B"}, attrs["codes"])
	require.Len(t, s.GetEvents(), 1)
	assert.Equal(t, "exception", s.GetEvents()[0].GetName())
	assert.Equal(t, "boom", s.GetEvents()[0].GetAttributes()[0].GetValue().GetStringValue())
	require.Len(t, s.GetLinks(), 1)
	assert.Equal(t, trace.TraceID{7}, trace.TraceID(s.GetLinks()[0].GetTraceId()))
}
