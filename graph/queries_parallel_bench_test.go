package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// BenchmarkIdenticalQueriesParallel sends Q1 of benchQueries, the same
// request every time, from many goroutines at once (MODE=same of
// ../shared/bench): with identical operations and upstream calls in flight
// shared, as by default; with only the calls shared; with neither. BenchmarkBenchQueries sends one request at a
// time, so sharing never shows there. It reports upstream calls per
// operation; every answer is checked as there.
func BenchmarkIdenticalQueriesParallel(b *testing.B) {
	q := benchQueries[0]
	for _, mode := range []struct {
		name        string
		opts        []restclient.Option
		noOpSharing bool
	}{
		{"shared", nil, false}, // the default: operations and upstream calls
		{"calls-only", nil, true},
		{"unshared", []restclient.Option{restclient.WithoutSharing()}, true},
	} {
		b.Run(q.name+"/"+mode.name, func(b *testing.B) {
			fake := fakeapi.NewServer(fakeapi.WithUsers(200), fakeapi.WithMeetingsPerUser(40), fakeapi.WithThreadsPerUser(30))
			defer fake.Close()
			client, err := restclient.New(fake.URL, append([]restclient.Option{
				restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}),
			}, mode.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			handler := graph.NewHandler(graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler), DisableOperationSharing: mode.noOpSharing})

			ids := make([]string, len(q.users))
			wantMeetings := 0
			for i, id := range q.users {
				ids[i] = fmt.Sprint(id)
				ms, err := client.UserMeetings(context.Background(), id)
				if err != nil {
					b.Fatal(err)
				}
				wantMeetings += len(ms)
			}
			body, _ := json.Marshal(map[string]string{"query": fmt.Sprintf(q.query, strings.Join(ids, ", "))})
			send := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", fakeapi.DefaultToken)
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				return rec
			}
			// The answer is the same every time: checked once against the
			// upstream's own counts, then compared byte for byte, which the
			// parallel goroutines can do without failing the benchmark
			// from another goroutine than its own.
			first := send()
			if got := countNodes(b, first.Body.Bytes()); first.Code != http.StatusOK || got != [2]int{wantMeetings, 0} {
				b.Fatalf("status %d, %d meetings, want %d: %.300s", first.Code, got[0], wantMeetings, first.Body.String())
			}
			want := first.Body.Bytes()
			fake.Reset()
			b.ReportAllocs()
			b.SetParallelism(8) // 8 per core: requests that overlap, as under wrk -c50
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if rec := send(); rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
						b.Errorf("status %d, answer differs: %.300s", rec.Code, rec.Body.String())
						return
					}
				}
			})
			b.ReportMetric(float64(fake.Calls())/float64(b.N), "upstream-calls/op")
		})
	}
}
