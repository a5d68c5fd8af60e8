package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// BenchmarkVaryingQueriesHeap sends Q1 and Q2 of benchQueries with the
// user ids rotating per request (MODE=vary of ../shared/bench), about 50
// at once as wrk -c50 does, and reports the largest live heap the
// collector found (peak-live-MiB: what requests in flight hold, the
// in-process fake's dataset included) and the largest heap goal it set
// (peak-goal-MiB, about twice that with GOGC=100): the process's peak RSS
// follows the goal. Every answer is checked for errors and its number of
// meeting (and thread) nodes.
func BenchmarkVaryingQueriesHeap(b *testing.B) {
	fake := fakeapi.NewServer(fakeapi.WithUsers(200), fakeapi.WithMeetingsPerUser(40), fakeapi.WithThreadsPerUser(30))
	defer fake.Close()
	client, err := restclient.New(fake.URL)
	if err != nil {
		b.Fatal(err)
	}
	handler := graph.NewHandler(graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler)})
	for _, q := range benchQueries[:2] {
		b.Run(q.name, func(b *testing.B) {
			bodies := make([][]byte, 200)
			for k := range bodies {
				ids := make([]string, len(q.users))
				for i, id := range q.users {
					ids[i] = fmt.Sprint((id-1+int64(k))%200 + 1)
				}
				bodies[k], _ = json.Marshal(map[string]string{"query": fmt.Sprintf(q.query, strings.Join(ids, ", "))})
			}
			want := len(q.users) * 40
			if q.threads {
				want += len(q.users) * 30
			}
			var next atomic.Int64
			stop := make(chan struct{})
			var peakLive, peakGoal uint64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // samples what the collector found and aims at
				defer wg.Done()
				s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}}
				t := time.NewTicker(2 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						metrics.Read(s)
						peakLive, peakGoal = max(peakLive, s[0].Value.Uint64()), max(peakGoal, s[1].Value.Uint64())
					}
				}
			}()
			runtime.GC()
			b.ReportAllocs()
			b.SetParallelism(25) // 50 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(bodies[next.Add(1)%200]))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", fakeapi.DefaultToken)
					rec := httptest.NewRecorder()
					handler.ServeHTTP(rec, req)
					if got := bytes.Count(rec.Body.Bytes(), []byte(`{"id":"`)) - len(q.users); rec.Code != http.StatusOK ||
						bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) || got != want {
						b.Errorf("status %d, %d nodes, want %d: %.300s", rec.Code, got, want, rec.Body.String())
						return
					}
				}
			})
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(peakLive)/(1<<20), "peak-live-MiB")
			b.ReportMetric(float64(peakGoal)/(1<<20), "peak-goal-MiB")
		})
	}
}
