package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// BenchmarkTail sends Q1 (50 users' meetings, 50 upstream calls) and Q3
// (one user's meetings and threads, 3 calls) of benchQueries from 10
// goroutines at once (wrk -c10: few connections, so that the run waits on
// the upstream rather than the CPU) to a fake upstream that answers in 5 ms,
// flat or with a tail (1% of answers 300 ms later), with hedging off and on
// (restclient.DefaultHedgePolicy, the configuration's default). It reports
// the requests' p50 and p99 in milliseconds, upstream calls per request,
// and hedges sent and won per request; every answer is checked. Run it with
// enough requests for a p99 that means something, e.g.
//
//	go test -run '^$' -bench BenchmarkTail -benchtime 1000x ./graph/
//
// The issue 21 goal: Q1's and Q3's p99 with the tail and hedging at most
// 1.5× their p99 on the flat upstream, and upstream calls per request at
// most 5% over 50 and 3.
func BenchmarkTail(b *testing.B) {
	for _, q := range []int{0, 2} { // Q1, Q3
		for _, upstream := range []string{"flat", "tail"} {
			for _, hedge := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/hedge=%v", benchQueries[q].name, upstream, hedge)
				b.Run(name, func(b *testing.B) {
					benchTail(b, benchQueries[q].query, benchQueries[q].users, upstream == "tail", hedge)
				})
			}
		}
	}
}

func benchTail(b *testing.B, query string, first []int64, tail, hedge bool) {
	opts := []fakeapi.Option{
		fakeapi.WithUsers(200), fakeapi.WithMeetingsPerUser(40), fakeapi.WithThreadsPerUser(30),
		fakeapi.WithLatency(5*time.Millisecond, 0),
	}
	if tail {
		opts = append(opts, fakeapi.WithTail(0.01, 300*time.Millisecond))
	}
	fake := fakeapi.NewServer(opts...)
	defer fake.Close()
	var sent, won, refused atomic.Int64
	copts := []restclient.Option{
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}),
		restclient.WithHedgeObserver(func(e restclient.HedgeEvent) {
			switch e.Result {
			case restclient.HedgeSent:
				sent.Add(1)
			case restclient.HedgeWon:
				won.Add(1)
			default:
				refused.Add(1)
			}
		}),
	}
	if hedge {
		p := restclient.HedgePolicy{}
		if v := os.Getenv("HEDGE_PERCENTILE"); v != "" { // for trying settings
			p.Percentile, _ = strconv.ParseFloat(v, 64)
		}
		if v := os.Getenv("HEDGE_MIN_DELAY"); v != "" {
			p.MinDelay, _ = time.ParseDuration(v)
		}
		if v := os.Getenv("HEDGE_BUDGET"); v != "" {
			p.Budget, _ = strconv.ParseFloat(v, 64)
		}
		if v := os.Getenv("HEDGE_MAX"); v != "" {
			p.MaxHedges, _ = strconv.Atoi(v)
		}
		copts = append(copts, restclient.WithHedging(p))
	}
	client, err := restclient.New(fake.URL, copts...)
	if err != nil {
		b.Fatal(err)
	}
	defer client.CloseIdleConnections()
	handler := graph.NewHandler(graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler)})

	// The users rotate from one request to the next (MODE=vary of
	// ../shared/bench), so that requests in flight together seldom share
	// an upstream call: each makes its own 50 or 3.
	const users = 200
	bodies := make([][]byte, users)
	for r := range bodies {
		ids := make([]string, len(first))
		for i, id := range first {
			ids[i] = fmt.Sprint((id-1+int64(r))%users + 1)
		}
		bodies[r], _ = json.Marshal(map[string]string{"query": fmt.Sprintf(query, strings.Join(ids, ", "))})
	}
	wantMeetings := 40 * len(first) // every user has 40 meetings
	var next atomic.Int64
	send := func() (time.Duration, bool) {
		body := bodies[next.Add(1)%users]
		start := time.Now()
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", fakeapi.DefaultToken)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req.WithContext(context.Background()))
		d := time.Since(start)
		return d, rec.Code == http.StatusOK && !bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) &&
			bytes.Count(rec.Body.Bytes(), []byte(`"id"`)) >= wantMeetings
	}
	// Warm-up, one at a time: connections open, and hedging learns each
	// endpoint's latency (20 answers per endpoint before it hedges).
	for range 30 {
		if _, ok := send(); !ok {
			b.Fatal("warm-up request failed")
		}
	}
	fake.Reset()
	sent.Store(0)
	won.Store(0)
	refused.Store(0)

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		failed    atomic.Int64
	)
	b.SetParallelism(1) // one per core: 2 requests at once on the 2-core machine, latency-bound
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, ok := send()
			if !ok {
				failed.Add(1)
			}
			mu.Lock()
			latencies = append(latencies, d)
			mu.Unlock()
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d answers wrong", n, b.N)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(int(p*float64(len(latencies))), len(latencies)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(fake.Calls())/float64(b.N), "upstream-calls/op")
	b.ReportMetric(float64(sent.Load())/float64(b.N), "hedges/op")
	b.ReportMetric(float64(won.Load())/float64(b.N), "hedges-won/op")
	b.ReportMetric(float64(refused.Load())/float64(b.N), "hedges-refused/op")
	b.ReportMetric(float64(fake.Tailed())/float64(b.N), "tail-answers/op")
}
