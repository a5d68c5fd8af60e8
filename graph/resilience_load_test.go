package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// loadQuery costs four upstream calls: two users' meetings and threads
// page 1.
const loadQuery = `query($a: ID!, $b: ID!) {
	a: user(id: $a) { id meetings { totalCount } threads(first: 2) { totalCount } }
	b: user(id: $b) { id meetings { totalCount } threads(first: 2) { totalCount } }
}`

const loadCallsPerOp = 4

// loadRig is the facade on loopback in front of a fake upstream, driven
// over real HTTP connections by a bounded number of workers.
type loadRig struct {
	t      testing.TB
	fake   *fakeapi.Server
	client *restclient.Client
	facade *httptest.Server
	hc     *http.Client
	data   *fakeapi.Dataset
	log    *syncBuffer

	mu          sync.Mutex
	transitions []string
}

func newLoadRig(t testing.TB, fake []fakeapi.Option, client ...restclient.Option) *loadRig {
	r := &loadRig{t: t, fake: fakeapi.NewServer(fake...), log: &syncBuffer{}}
	r.data = r.fake.Dataset()
	client = append(client, restclient.WithBreakerObserver(func(from, to restclient.BreakerState) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.transitions = append(r.transitions, from.String()+"→"+to.String())
	}))
	c, err := restclient.New(r.fake.URL, client...)
	require.NoError(t, err)
	r.client = c
	// Errors only: a panic or an internal error would be logged here.
	logger := slog.New(slog.NewJSONHandler(r.log, &slog.HandlerOptions{Level: slog.LevelError}))
	r.facade = httptest.NewServer(graph.NewHandler(graph.Options{Upstream: c, Logger: logger}))
	r.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}
	return r
}

// close stops everything the rig started, so that no goroutine outlives it.
func (r *loadRig) close() {
	r.facade.Close()
	r.hc.CloseIdleConnections()
	r.client.CloseIdleConnections()
	r.fake.Close()
}

func (r *loadRig) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.transitions)
}

// loadStats sums up a run.
type loadStats struct {
	ops, ok, partial, failed int
	codes                    map[string]int
	latencies                []time.Duration
	upstreamCalls            int
}

func (s *loadStats) percentile(p float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	return l[min(len(l)-1, int(p*float64(len(l))))]
}

// run sends n operations from the given number of workers and checks every
// response: well-formed JSON, status 200, every error with a code and a
// path, and every user that came back holding the dataset's counts.
func (r *loadRig) run(n, workers int) *loadStats {
	s := &loadStats{ops: n, codes: map[string]int{}}
	before := r.fake.Calls()
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				a, b := int64(i%50+1), int64((i+25)%50+1)
				start := time.Now()
				res, raw := r.post(a, b)
				d := time.Since(start)
				served := 0
				if res != nil {
					served = r.check(res, raw, a, b)
				}
				mu.Lock()
				s.latencies = append(s.latencies, d)
				switch {
				case res == nil:
					s.failed++
				case served == 2 && len(res.Errors) == 0:
					s.ok++
				case served > 0:
					s.partial++
				default:
					s.failed++
				}
				if res == nil {
					mu.Unlock()
					continue
				}
				for _, e := range res.Errors {
					s.codes[e.code()]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.upstreamCalls = r.fake.Calls() - before
	return s
}

// post sends one operation; it runs on a worker goroutine, so it reports
// failures with assert (never require) and returns nil for them.
func (r *loadRig) post(a, b int64) (*gqlResponse, []byte) {
	t := r.t
	body, err := json.Marshal(map[string]any{"query": loadQuery, "variables": map[string]any{"a": itoa(a), "b": itoa(b)}})
	if !assert.NoError(t, err) {
		return nil, nil
	}
	req, err := http.NewRequest(http.MethodPost, r.facade.URL, bytes.NewReader(body))
	if !assert.NoError(t, err) {
		return nil, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", fakeapi.DefaultToken)
	resp, err := r.hc.Do(req)
	if !assert.NoError(t, err, "the facade answers") {
		return nil, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if !assert.NoError(t, err, "the whole answer arrives") {
		return nil, nil
	}
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	var out gqlResponse
	if !assert.True(t, json.Valid(raw), "well-formed JSON: %s", raw) || !assert.NoError(t, json.Unmarshal(raw, &out)) {
		return nil, nil
	}
	return &out, raw
}

// check verifies one response and returns how many of its two users came
// back. It runs on a worker goroutine, like post.
func (r *loadRig) check(res *gqlResponse, raw []byte, a, b int64) int {
	t := r.t
	var data map[string]*struct {
		ID       string
		Meetings struct{ TotalCount int }
		Threads  struct{ TotalCount int }
	}
	if !assert.NoError(t, json.Unmarshal(res.Data, &data), "%s", raw) {
		return 0
	}
	served := 0
	for alias, id := range map[string]int64{"a": a, "b": b} {
		u := data[alias]
		if u == nil {
			continue
		}
		served++
		want := user(t, r.data, id)
		assert.Equal(t, itoa(id), u.ID)
		assert.Equal(t, len(want.Meetings), u.Meetings.TotalCount)
		assert.Equal(t, len(want.Threads), u.Threads.TotalCount)
	}
	for _, e := range res.Errors {
		assert.NotEmpty(t, e.code(), "every error has a code: %s", raw)
		assert.NotEmpty(t, e.Path, "every error has a path: %s", raw)
		assert.NotEqual(t, graph.CodeInternal, e.code(), "no panic or bug: %s", raw)
	}
	return served
}

// TestResilienceUnderLoad drives about 2,000 operations through the facade
// on loopback, 16 at a time: with 10% of upstream calls failing, during an
// outage, and after it. The breaker must stay closed, open, then recover;
// every response must be well formed and right where it has data; nothing
// may leak. Nothing it asserts depends on the machine's speed: the breaker
// opens on a run of failures, which an outage makes and 10% failing does
// not, whatever the window still holds.
func TestResilienceUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ignore := goleak.IgnoreCurrent()
	const workers = 16
	r := newLoadRig(t, nil,
		restclient.WithRetry(restclient.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}),
		restclient.WithCircuitBreaker(restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 20, Window: time.Second, OpenTimeout: 50 * time.Millisecond, HalfOpenProbes: 2}))

	// Warm-up, then the memory baseline.
	warm := r.run(100, workers)
	require.Equal(t, warm.ops, warm.ok)
	baseline := heapAfterGC()

	// 10% of upstream calls fail with 503: retries hide nearly all of it,
	// and the breaker has no reason to open.
	remove := r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503, Rate: 0.1})
	flaky := r.run(1000, workers)
	remove()
	t.Logf("10%% failing: %d/%d operations whole, %d partial, %d failed, %.2f upstream calls per operation, codes %v",
		flaky.ok, flaky.ops, flaky.partial, flaky.failed, float64(flaky.upstreamCalls)/float64(flaky.ops), flaky.codes)
	assert.GreaterOrEqual(t, float64(flaky.ok)/float64(flaky.ops), 0.9, "retries recover most failures")
	assert.Greater(t, flaky.upstreamCalls, flaky.ops*loadCallsPerOp, "some calls were retried")
	assert.LessOrEqual(t, flaky.upstreamCalls, flaky.ops*loadCallsPerOp*13/10, "within the retry budget")
	assert.Empty(t, r.seen(), "the breaker stays closed at 10%")

	// An outage: every call fails. The breaker opens and the facade fails
	// fast instead of sending every call.
	remove = r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	outage := r.run(300, workers)
	remove()
	t.Logf("outage: %d upstream calls for %d operations, codes %v", outage.upstreamCalls, outage.ops, outage.codes)
	assert.Contains(t, r.seen(), "closed→open")
	assert.Positive(t, outage.codes[graph.CodeUpstreamCircuitOpen], "operations failed fast")
	// Without the breaker every needed call would be sent at least once, and
	// retried; how many probes get through while it is open depends on the
	// machine's speed, so the bound is the calls it would otherwise send.
	assert.Less(t, outage.upstreamCalls, outage.ops*loadCallsPerOp, "the open breaker spared the upstream")
	assert.Zero(t, outage.ok)

	// The upstream is back: probes get through and the breaker closes. The
	// rounds go on until then, not for a set number: on a fast machine
	// many rounds fail fast within one OpenTimeout.
	recovered := false
	for deadline := time.Now().Add(30 * time.Second); !recovered && time.Now().Before(deadline); {
		s := r.run(25, workers)
		recovered = s.ok == s.ops && r.client.BreakerState() == restclient.BreakerClosed
	}
	require.True(t, recovered, "the facade recovered; transitions %v", r.seen())
	assert.Subset(t, r.seen(), []string{"closed→open", "open→half-open", "half-open→closed"})
	assert.Empty(t, r.log.String(), "nothing was logged at error level: no panic, no internal error")

	r.close()
	r.fake.Reset() // its request log is the test's, not the facade's
	after := heapAfterGC()
	t.Logf("heap: %d KiB after warm-up, %d KiB after the load", baseline>>10, after>>10)
	assert.Less(t, after, baseline+64<<20, "memory returns to the baseline")
	goleak.VerifyNone(t, ignore)
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkLoadReport prints how the facade behaves with a share of
// upstream calls failing, with the default retry and breaker settings, and
// with retries and the breaker off for comparison. It is a benchmark so that
// it runs only when asked for, once, without -race:
//
//	go test -run '^$' -bench LoadReport -benchtime 1x ./graph/
func BenchmarkLoadReport(b *testing.B) {
	for b.Loop() {
		loadReport(b)
	}
}

func loadReport(t testing.TB) {
	const (
		ops     = 2000
		workers = 16
	)
	var out strings.Builder
	fmt.Fprintf(&out, "\n%d operations of %d upstream calls each, %d at a time; upstream latency 5–10ms; failures are 503s\n\n", ops, loadCallsPerOp, workers)
	fmt.Fprintf(&out, "| failing | resilience | whole ops | partial | failed | users served | p50 | p90 | p99 | upstream calls/op | breaker opened | run time | top codes |\n")
	fmt.Fprintf(&out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	modes := []struct {
		name string
		opts []restclient.Option
	}{
		{"defaults", nil},
		{"retries, no breaker", []restclient.Option{restclient.WithoutCircuitBreaker()}},
		{"breaker ratio 0.75", []restclient.Option{restclient.WithCircuitBreaker(restclient.BreakerSettings{FailureRatio: 0.75})}},
		{"off", []restclient.Option{restclient.WithoutRetry(), restclient.WithoutCircuitBreaker()}},
	}
	for _, rate := range []float64{0, 0.1, 0.5} {
		for _, mode := range modes {
			r := newLoadRig(t, []fakeapi.Option{fakeapi.WithLatency(5*time.Millisecond, 5*time.Millisecond)}, mode.opts...)
			if rate > 0 {
				r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503, Rate: rate})
			}
			start := time.Now()
			s := r.run(ops, workers)
			took := time.Since(start)
			opened := 0
			for _, tr := range r.seen() {
				if strings.HasSuffix(tr, "→open") {
					opened++
				}
			}
			served := 2*s.ok + s.partial // a partial op served at least one of its two users
			fmt.Fprintf(&out, "| %.0f%% | %s | %.1f%% | %.1f%% | %.1f%% | ≥%.1f%% | %v | %v | %v | %.2f | %d× | %v | %s |\n",
				rate*100, mode.name, pct(s.ok, s.ops), pct(s.partial, s.ops), pct(s.failed, s.ops), pct(served, 2*s.ops),
				s.percentile(0.5).Round(100*time.Microsecond), s.percentile(0.9).Round(100*time.Microsecond), s.percentile(0.99).Round(100*time.Microsecond),
				float64(s.upstreamCalls)/float64(s.ops), opened, took.Round(10*time.Millisecond), topCodes(s.codes))
			r.close()
		}
	}
	t.Log(out.String())
}

func pct(n, of int) float64 { return 100 * float64(n) / float64(of) }

func topCodes(codes map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range codes {
		l = append(l, kv{k, v})
	}
	slices.SortFunc(l, func(a, b kv) int { return b.v - a.v })
	var parts []string
	for _, e := range l[:min(3, len(l))] {
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}
