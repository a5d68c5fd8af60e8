package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// BenchmarkNestedQueryObservability is BenchmarkNestedQuery (20 users,
// their meetings, each meeting's thread) with observability off and on, to
// measure what it costs:
//
//   - off: no metrics, no tracing, logging disabled (the level filters the
//     operation line out before it is formatted);
//   - logs: the JSON operation line, written to io.Discard;
//   - logs+metrics: plus every Prometheus collector, upstream calls included;
//   - logs+metrics+tracing: plus every span sampled and handed to an
//     exporter that drops it, so span creation is measured but not I/O;
//   - ...+unsampled: tracing on with a sampler that records nothing, the
//     cost of tracing in a production that samples a small share.
func BenchmarkNestedQueryObservability(b *testing.B) {
	type setup struct {
		name           string
		logs, metrics  bool
		trace, sampled bool
	}
	for _, s := range []setup{
		{name: "off"},
		{name: "logs", logs: true},
		{name: "logs+metrics", logs: true, metrics: true},
		{name: "logs+metrics+tracing", logs: true, metrics: true, trace: true, sampled: true},
		{name: "logs+metrics+tracing-unsampled", logs: true, metrics: true, trace: true},
	} {
		b.Run(s.name, func(b *testing.B) {
			fake := fakeapi.NewServer()
			defer fake.Close()
			opts := graph.Options{Logger: slog.New(slog.DiscardHandler)}
			var clientOpts []restclient.Option
			var tracing *observe.Tracing
			if s.logs {
				opts.Logger = slog.New(observe.WithTraceIDs(slog.NewJSONHandler(io.Discard, nil)))
			}
			if s.metrics {
				opts.Metrics = observe.NewMetrics()
				clientOpts = append(clientOpts, upstreamMetrics(opts.Metrics))
			}
			if s.trace {
				sampler := sdktrace.NeverSample()
				if s.sampled {
					sampler = sdktrace.AlwaysSample()
				}
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSyncer(tracetest.NewNoopExporter()))
				defer func() { _ = tp.Shutdown(context.Background()) }()
				tracing = observe.NewTracing(tp)
				opts.Tracing = tracing
			}
			clientOpts = append(clientOpts, restclient.WithHTTPClient(&http.Client{Transport: observe.NewTransport(restclient.NewTransport(0), tracing, restclient.ErrorType)}))
			client, err := restclient.New(fake.URL, clientOpts...)
			if err != nil {
				b.Fatal(err)
			}
			opts.Upstream = client
			h := graph.NewHandler(opts)

			ids := make([]string, 20)
			for i := range ids {
				ids[i] = itoa(int64(i + 1))
			}
			body, _ := json.Marshal(map[string]any{
				"query":     `query Nested($ids: [ID!]!) { users(ids: $ids) { id meetings(first: 100) { nodes { id status startDate thread { id name } } } } }`,
				"variables": map[string]any{"ids": ids},
			})
			fake.Reset()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", fakeapi.DefaultToken)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
					b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
				}
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e6, "cpu-ms/op") // the fake upstream's included
			b.ReportMetric(float64(fake.Calls())/float64(b.N), "upstream-calls/op")
		})
	}
}
