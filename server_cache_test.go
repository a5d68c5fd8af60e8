package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/resttest"
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
	up := resttest.NewServer()
	t.Cleanup(up.Close)
	clk := &movingClock{now: time.Now()}
	cache, err := respcache.New(respcache.Options{TTL: 30 * time.Second, StaleIfError: time.Hour, Now: clk.Now})
	require.NoError(t, err)
	joined := make(chan string, n)
	client, err := restclient.New(up.URL, restclient.WithoutRetry(), restclient.WithoutCircuitBreaker(),
		restclient.WithResponseCache(restclient.ResponseCache{Cache: cache, Keyer: respcache.NewRandomKeyer(nil)}),
		restclient.WithShareObserver(func(endpoint string) { joined <- endpoint }))
	require.NoError(t, err)
	srv := httptest.NewServer(graph.NewHandler(graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)

	want := len(up.Dataset().Users[0].Meetings)
	require.Equal(t, want, totalCount(t, ask(t, srv.URL, userMeetingsQuery(1), resttest.DefaultToken)))
	clk.Advance(42 * time.Second)
	up.Inject(resttest.Fault{Kind: resttest.FaultStatus, Status: http.StatusServiceUnavailable})
	release := up.Hold()
	defer release()

	// Each request its own document (an alias of its own), so that they
	// share the upstream call, not a whole execution (graph/opshare.go).
	results := make(chan gqlResult, n)
	for i := range n {
		go func() {
			results <- ask(t, srv.URL, fmt.Sprintf(`{ u%d: user(id: "1") { meetings { totalCount } } }`, i), resttest.DefaultToken)
		}()
	}
	for range n - 1 {
		select {
		case <-joined:
		case <-time.After(20 * time.Second):
			t.Fatal("the requests did not all join one call")
		}
	}
	assert.Equal(t, 2, up.Calls(), "the first answer, then one shared call")
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
	t.Logf("%d concurrent requests answered stale through one shared call: %d marked", n, marked)
	assert.Equal(t, n, marked, "every response says its data is stale")
}
