package restclient_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/ratelimit"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// turns is a rate limit whose turns the test hands out one at a time.
type turns struct {
	ch      chan struct{}
	mu      sync.Mutex
	waiting int
}

func (tu *turns) Wait(ctx context.Context) error {
	tu.mu.Lock()
	tu.waiting++
	tu.mu.Unlock()
	defer func() {
		tu.mu.Lock()
		tu.waiting--
		tu.mu.Unlock()
	}()
	select {
	case <-tu.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (tu *turns) inside() int {
	tu.mu.Lock()
	defer tu.mu.Unlock()
	return tu.waiting
}

// TestTheRateLimitTakesCallersInTurn: each credential's calls queue apart,
// whatever their per-request headers, and a quiet credential's call is
// sent within one round of a busy one's backlog (issue 18).
func TestTheRateLimitTakesCallersInTurn(t *testing.T) {
	const quiet = "Bearer quiet"
	fake := fakeapi.NewServer(fakeapi.WithTokens(fakeapi.DefaultToken, quiet))
	t.Cleanup(fake.Close)
	tu := &turns{ch: make(chan struct{})}
	fair := ratelimit.NewFair(tu, ratelimit.FairOptions{})
	c, err := restclient.New(fake.URL, restclient.WithRateLimiter(fair), restclient.WithoutRetry())
	require.NoError(t, err)

	var wg sync.WaitGroup
	call := func(token string, user int64, requestID string) {
		ctx := restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {token}, "X-Request-Id": {requestID}})
		wg.Go(func() {
			_, err := c.UserMeetings(ctx, user)
			assert.NoError(t, err)
		})
	}
	queued := func(n int) {
		require.Eventually(t, func() bool { return fair.Waiting()+tu.inside() == n }, 10*time.Second, time.Millisecond)
	}
	const busy = 8
	for u := range int64(busy) {
		// Each request has its own id; the caller is the same.
		call(fakeapi.DefaultToken, u+1, "req-"+strconv.FormatInt(u, 10))
		queued(int(u) + 1)
	}
	call(quiet, busy+1, "req-quiet")
	queued(busy + 1)
	assert.Equal(t, 2, fair.Queues(), "one queue per credential")
	for i := range busy + 1 {
		tu.ch <- struct{}{}
		require.Eventually(t, func() bool { return fake.Calls() == i+1 }, 10*time.Second, time.Millisecond)
	}
	wg.Wait()
	var order []string
	for _, r := range fake.Requests() {
		order = append(order, map[string]string{fakeapi.DefaultToken: "busy", quiet: "quiet"}[r.Credential])
	}
	assert.Equal(t, []string{"busy", "busy", "quiet", "busy", "busy", "busy", "busy", "busy", "busy"}, order,
		"the busy call in the limiter, the busy queue's turn in the round under way, then the quiet one")
}
