package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
)

// metricsSnapshot is one scrape of /metrics, parsed.
type metricsSnapshot map[string]*dto.MetricFamily

// scrape GETs the metrics handler as Prometheus would and parses the text.
func scrape(t *testing.T, m *observe.Metrics) metricsSnapshot {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err, rec.Body.String())
	return fams
}

// find returns the series of family name whose labels include want.
func (s metricsSnapshot) find(name string, want map[string]string) []*dto.Metric {
	fam, ok := s[name]
	if !ok {
		return nil
	}
	var out []*dto.Metric
next:
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// value sums the counter or gauge series of name matching labels; 0 when
// there is none (a counter never incremented is not exposed).
func (s metricsSnapshot) value(name string, labels map[string]string) float64 {
	total := 0.0
	for _, m := range s.find(name, labels) {
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

// histogram sums the sample count and sum of the histogram series matching
// labels.
func (s metricsSnapshot) histogram(name string, labels map[string]string) (count uint64, sum float64) {
	for _, m := range s.find(name, labels) {
		count += m.GetHistogram().GetSampleCount()
		sum += m.GetHistogram().GetSampleSum()
	}
	return count, sum
}

// lines decodes the JSON log lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

func jsonLogger(w *syncBuffer, level slog.Level) *slog.Logger {
	return slog.New(observe.WithTraceIDs(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// capture records the headers of every upstream request as they leave.
type capture struct {
	next http.RoundTripper
	mu   sync.Mutex
	sent []http.Header
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.sent = append(c.sent, r.Header.Clone())
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *capture) headers() []http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]http.Header(nil), c.sent...)
}

// observed is an env with every observability feature on: metrics, spans
// into memory, JSON logs into a buffer, and the upstream requests' headers
// captured below the tracing transport.
type observed struct {
	*env
	metrics *observe.Metrics
	spans   *tracetest.InMemoryExporter
	logs    *syncBuffer
	sent    *capture
}

// upstreamMetrics records every upstream attempt in m, labelled as the
// server labels them (package telemetry).
func upstreamMetrics(m *observe.Metrics) restclient.Option {
	return restclient.WithObserver(func(ci restclient.CallInfo) {
		m.UpstreamCall(ci.Endpoint, ci.HTTPStatus, ci.Class.Result(), ci.Duration)
	})
}

func newObserved(t *testing.T, opts ...envOption) *observed {
	t.Helper()
	o := &observed{
		metrics: observe.NewMetrics(),
		spans:   tracetest.NewInMemoryExporter(),
		logs:    &syncBuffer{},
		sent:    &capture{next: restclient.NewTransport(0)},
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(o.spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tracing := observe.NewTracing(tp)
	base := []envOption{
		withClient(
			upstreamMetrics(o.metrics),
			restclient.WithHTTPClient(&http.Client{Transport: observe.NewTransport(o.sent, tracing, restclient.ErrorType)}),
		),
		withGraph(func(g *graph.Options) {
			g.Metrics = o.metrics
			g.Tracing = tracing
			g.Logger = jsonLogger(o.logs, slog.LevelDebug)
		}),
	}
	o.env = newEnv(t, append(base, opts...)...)
	return o
}

// post sends a raw GraphQL request and returns the recorder.
func (e *env) post(body string, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}
