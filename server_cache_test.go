package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/internal/redistest"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// The upstream response cache as callers see it (issue 18, items 3, 4
// and 14).

// movingClock is a cache clock the test moves.
type movingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *movingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *movingClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// staleMarks returns the extensions.cache.stale entries of r.
func staleMarks(t *testing.T, r gqlResult) []map[string]any {
	t.Helper()
	c, ok := r.Extensions["cache"].(map[string]any)
	if !ok {
		return nil
	}
	var out []map[string]any
	for _, m := range c["stale"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

// TestEveryCallerOfASharedCallIsToldItIsStale: N requests whose upstream
// call is one shared call (held at the fake until all N have joined it)
// all get the stale answer when the upstream fails, and every response
// says so, not only the one whose context ran the call.
func TestEveryCallerOfASharedCallIsToldItIsStale(t *testing.T) {
	const n = 16
	up := fakeapi.NewServer()
	t.Cleanup(up.Close)
	clk := &movingClock{now: time.Now()}
	cache, err := respcache.New(respcache.Options{TTL: 30 * time.Second, StaleIfError: time.Hour, Now: clk.Now})
	require.NoError(t, err)
	joined := make(chan string, n)
	client, err := restclient.New(up.URL, restclient.WithoutRetry(), restclient.WithoutCircuitBreaker(),
		restclient.WithResponseCache(restclient.ResponseCache{Cache: cache, Keyer: respcache.NewRandomKeyer()}),
		restclient.WithShareObserver(func(endpoint string) { joined <- endpoint }))
	require.NoError(t, err)
	srv := httptest.NewServer(graph.NewHandler(graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)

	want := len(up.Dataset().Users[0].Meetings)
	require.Equal(t, want, totalCount(t, ask(t, srv.URL, userMeetingsQuery(1), fakeapi.DefaultToken)))
	clk.Advance(42 * time.Second)
	up.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusServiceUnavailable})
	release := up.Hold()
	defer release()

	// Each request its own document (an alias of its own), so that they
	// share the upstream call, not a whole execution (graph/opshare.go).
	results := make(chan gqlResult, n)
	for i := range n {
		go func() {
			results <- ask(t, srv.URL, fmt.Sprintf(`{ u%d: user(id: "1") { meetings { totalCount } } }`, i), fakeapi.DefaultToken)
		}()
	}
	for range n - 1 {
		select {
		case <-joined:
		case <-time.After(20 * time.Second):
			t.Fatal("the requests did not all join one call")
		}
	}
	// The shared call reaches the fake on its own goroutine, maybe after
	// every request joined it.
	require.Eventually(t, func() bool { return up.Calls() == 2 }, 20*time.Second, time.Millisecond, "the first answer, then one shared call")
	release()

	marked := 0
	for range n {
		r := <-results
		require.Empty(t, r.Errors)
		require.Len(t, r.Data, 1)
		for _, u := range r.Data {
			assert.Equal(t, float64(want), u.(map[string]any)["meetings"].(map[string]any)["totalCount"])
		}
		if marks := staleMarks(t, r); len(marks) == 1 && marks[0]["path"] == "/api/v1/users/1/meetings" && marks[0]["ageSeconds"] == 42.0 {
			marked++
		}
	}
	assert.Equal(t, 2, up.Calls(), "no request sent a call of its own")
	t.Logf("%d concurrent requests answered stale through one shared call: %d marked", n, marked)
	assert.Equal(t, n, marked, "every response says its data is stale")
}

// cacheFacade is the facade in one process, over up through a cache whose
// clock is clk, sharing rdb when it is not nil, the way replicas do.
func cacheFacade(t *testing.T, upstreamURL string, rdb redis.Cmdable, clk *movingClock, o respcache.Options) string {
	t.Helper()
	o.TTL, o.StaleIfError, o.Now, o.Logger = 30*time.Second, time.Hour, clk.Now, slog.New(slog.DiscardHandler)
	// The tests count upstream calls: a Redis call timing out on a loaded
	// machine would make one more.
	o.Timeout = 5 * time.Second
	if rdb != nil {
		o.Redis = rdb
	}
	cache, err := respcache.New(o)
	require.NoError(t, err)
	keyer, err := respcache.NewKeyer([]byte(cacheSecret))
	require.NoError(t, err)
	client, err := restclient.New(upstreamURL, restclient.WithoutRetry(), restclient.WithoutCircuitBreaker(),
		restclient.WithResponseCache(restclient.ResponseCache{Cache: cache, Keyer: keyer}))
	require.NoError(t, err)
	srv := httptest.NewServer(graph.NewHandler(graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func errorCode(t *testing.T, r gqlResult) any {
	t.Helper()
	require.NotEmpty(t, r.Errors, "data: %v", r.Data)
	return r.Errors[0]["extensions"].(map[string]any)["code"]
}

// checkRevocation runs, through facades a and b (the same one, or two
// replicas sharing Redis), what a refused credential must see: a 403 for
// one path drops what the credential cached on every path, fresh or stale;
// a later 503 serves it nothing stale; another credential keeps its
// entries. up answers credential T (the fake's DefaultToken) and O
// (otherTenant).
func checkRevocation(t *testing.T, up *fakeapi.Server, clk *movingClock, a, b string) {
	const T, O = fakeapi.DefaultToken, otherTenant
	meetings := func(cred string, user int64) int {
		u, ok := up.DatasetFor(cred).User(user)
		require.True(t, ok)
		return len(u.Meetings)
	}
	for _, via := range []string{a, b} { // b holds its own copies, in process
		for _, u := range []int64{1, 2} {
			assert.Equal(t, meetings(T, u), totalCount(t, ask(t, via, userMeetingsQuery(u), T)))
		}
		assert.Equal(t, meetings(O, 1), totalCount(t, ask(t, via, userMeetingsQuery(1), O)))
	}
	calls := up.Calls()
	require.Equal(t, 3, calls, "one call per answer, whichever facade asked")

	// Fresh: refused on a path it never cached, the credential loses its
	// fresh answers on the others.
	remove := up.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusForbidden, Credential: T})
	assert.Equal(t, graph.CodeForbidden, errorCode(t, ask(t, a, userMeetingsQuery(3), T)))
	remove()
	for i, u := range []int64{1, 2} {
		assert.Equal(t, meetings(T, u), totalCount(t, ask(t, b, userMeetingsQuery(u), T)))
		assert.Equal(t, calls+2+i, up.Calls(), "user %d asked of the upstream again after the refusal", u)
	}
	assert.Equal(t, meetings(O, 1), totalCount(t, ask(t, b, userMeetingsQuery(1), O)))
	assert.Equal(t, calls+3, up.Calls(), "another credential's answer is still cached")

	// Stale: once refused, nothing stale, whichever path and facade.
	clk.Advance(42 * time.Second)
	remove = up.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusForbidden, Credential: T})
	assert.Equal(t, graph.CodeForbidden, errorCode(t, ask(t, a, userMeetingsQuery(1), T)))
	remove()
	up.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusServiceUnavailable})
	for _, via := range []string{a, b} {
		for _, u := range []int64{1, 2} {
			r := ask(t, via, userMeetingsQuery(u), T)
			assert.Equal(t, graph.CodeUpstreamUnavailable, errorCode(t, r), "user %d: the refused credential got stale data", u)
			assert.Empty(t, staleMarks(t, r))
		}
		other := ask(t, via, userMeetingsQuery(1), O)
		assert.Equal(t, meetings(O, 1), totalCount(t, other), "another credential still gets its stale answer")
		assert.Len(t, staleMarks(t, other), 1)
	}
}

// TestARefusedCredentialLosesWhatItCached: in one process's cache.
func TestARefusedCredentialLosesWhatItCached(t *testing.T) {
	up := fakeapi.NewServer(fakeapi.WithTenant(otherTenant, 77))
	t.Cleanup(up.Close)
	clk := &movingClock{now: time.Now()}
	f := cacheFacade(t, up.URL, nil, clk, respcache.Options{})
	checkRevocation(t, up, clk, f, f)
}

// TestARefusedCredentialLosesWhatItCachedOnEveryReplica: a refusal seen by
// one replica reaches the other's process tier and Redis.
func TestARefusedCredentialLosesWhatItCachedOnEveryReplica(t *testing.T) {
	rdb := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: rdb.Addr})
	t.Cleanup(func() { _ = c.Close() })
	up := fakeapi.NewServer(fakeapi.WithTenant(otherTenant, 77))
	t.Cleanup(up.Close)
	clk := &movingClock{now: time.Now()}
	a := cacheFacade(t, up.URL, c, clk, respcache.Options{})
	b := cacheFacade(t, up.URL, c, clk, respcache.Options{})
	checkRevocation(t, up, clk, a, b)
}

// phpUpstream serves up's answers with the Cache-Control many PHP APIs send
// by default.
func phpUpstream(t *testing.T, up *fakeapi.Server) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store, no-cache, must-revalidate")
		up.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAnUpstreamThatForbidsCachingIsTold: answers marked no-store are not
// cached, and the operator is told, once per endpoint in the log and for
// each answer in the metrics; -cache-ignore-upstream-no-store caches them.
func TestAnUpstreamThatForbidsCachingIsTold(t *testing.T) {
	up := fakeapi.NewServer()
	t.Cleanup(up.Close)
	url := phpUpstream(t, up)
	queries := []string{userMeetingsQuery(1), `{ user(id: "1") { threads(first: 1) { totalCount } } }`}
	// round asks every query and returns the upstream calls it made.
	round := func(s *testServer) int {
		before := up.Calls()
		for _, q := range queries {
			r := ask(t, s.base, q, fakeapi.DefaultToken)
			require.Empty(t, r.Errors)
		}
		return up.Calls() - before
	}
	const msg = "upstream answers not cached: the upstream forbids it"

	s := launch(t, "-upstream-url", url, "-cache-ttl", "1h", "-log-level", "info")
	first := round(s)
	require.Positive(t, first)
	assert.Equal(t, first, round(s), "nothing was cached")
	_, body := get(t, s.base+"/metrics")
	assert.Equal(t, float64(2*first), metricValue(t, body, `salesgraph_upstream_cache_total{result="not_stored_upstream_forbids"}`))
	endpoints := map[string]int{}
	for _, l := range strings.Split(s.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			endpoints[fmt.Sprint(m["endpoint"])]++
			assert.Equal(t, "no-store", m["forbiddenBy"])
		}
	}
	assert.Equal(t, map[string]int{"/api/v1/users/{id}/meetings": 1, "/api/v1/users/{id}/threads": 1}, endpoints, "one line per endpoint")

	s = launch(t, "-upstream-url", url, "-cache-ttl", "1h", "-log-level", "info", "-cache-ignore-upstream-no-store")
	require.Positive(t, round(s))
	assert.Zero(t, round(s), "cached for the TTL anyway")
	assert.Nil(t, s.logLine(msg))
}

// TestARefusedCredentialLosesWhatItCachedDespiteNoStore: with no-store
// answers cached anyway, a refusal still takes them away.
func TestARefusedCredentialLosesWhatItCachedDespiteNoStore(t *testing.T) {
	rdb := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: rdb.Addr})
	t.Cleanup(func() { _ = c.Close() })
	up := fakeapi.NewServer(fakeapi.WithTenant(otherTenant, 77))
	t.Cleanup(up.Close)
	url := phpUpstream(t, up)
	clk := &movingClock{now: time.Now()}
	a := cacheFacade(t, url, c, clk, respcache.Options{IgnoreNoStore: true})
	b := cacheFacade(t, url, c, clk, respcache.Options{IgnoreNoStore: true})
	checkRevocation(t, up, clk, a, b)
}
