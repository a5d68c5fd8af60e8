package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// BenchmarkFixedCost is Q4 of the shared benchmark, { user(id: 7) { id } },
// which makes no upstream call, through the handler observed as server.go
// observes it by default: metrics on, tracing configured without an
// exporter (the W3C propagators still read every request), and the JSON log
// at warn (as ../shared/bench runs it, the operation line filtered out) or
// at info (the default, written to io.Discard). It is the per-request cost
// every operation pays. Its answer is remembered (opcache.go) unless
// sharing is off (executed=true: gqlgen's dispatch, the extension chain
// and encoding for every request).
func BenchmarkFixedCost(b *testing.B) {
	for _, c := range []struct {
		level    slog.Level
		executed bool
	}{{slog.LevelWarn, false}, {slog.LevelInfo, false}, {slog.LevelWarn, true}} {
		level := c.level
		b.Run(fmt.Sprintf("log=%s/executed=%t", level, c.executed), func(b *testing.B) {
			fake := fakeapi.NewServer()
			defer fake.Close()
			tracing, err := observe.TracingFromEnv(context.Background(), func(string) string { return "" }, io.Discard, nil, "bench")
			if err != nil {
				b.Fatal(err)
			}
			metrics := observe.NewMetrics()
			client, err := restclient.New(fake.URL, upstreamMetrics(metrics))
			if err != nil {
				b.Fatal(err)
			}
			h := graph.NewHandler(graph.Options{
				Upstream: client,
				Logger:   slog.New(observe.WithTraceIDs(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))),
				Metrics:  metrics,
				Tracing:  tracing,

				DisableOperationSharing: c.executed,
			})
			body := []byte(`{"query":"{ user(id: 7) { id } }"}`)
			want := []byte(`{"data":{"user":{"id":"7"}}}`)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", fakeapi.DefaultToken)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
					b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
				}
			}
			if fake.Calls() != 0 {
				b.Fatalf("%d upstream calls", fake.Calls())
			}
		})
	}
}
