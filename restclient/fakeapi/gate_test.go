package fakeapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// parallel sends n requests at once and returns their statuses.
func parallel(t *testing.T, s *fakeapi.Server, n int) []int {
	t.Helper()
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodGet, s.URL+meetingsPath(int64(i%3+1)), nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", fakeapi.DefaultToken)
			resp, err := client.Do(req)
			if assert.NoError(t, err) {
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}
		})
	}
	wg.Wait()
	return statuses
}

func TestGateOpensWhenKArrive(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3))
	defer s.Close()
	g := s.Gate(5)
	done := make(chan []int)
	go func() { done <- parallel(t, s, 5) }()
	assert.True(t, g.Wait(30*time.Second))
	assert.Equal(t, 5, g.Arrived())
	assert.Equal(t, []int{200, 200, 200, 200, 200}, <-done, "held, then answered as usual")
	assert.Equal(t, 5, s.MaxInFlight())

	// One-shot: later requests pass, and do not count.
	assert.Equal(t, 403, get(t, s, meetingsPath(1), "").status)
	assert.Equal(t, 5, g.Arrived())
	assert.True(t, g.Wait(0), "Wait keeps its answer")
}

func TestGateTimesOutAndReleases(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3))
	defer s.Close()
	g := s.Gate(3)
	done := make(chan []int)
	go func() { done <- parallel(t, s, 2) }()
	// Two requests can never make three: this short wait is expected to fail.
	assert.False(t, g.Wait(50*time.Millisecond))
	assert.Equal(t, []int{200, 200}, <-done, "released when Wait gave up")
	assert.LessOrEqual(t, g.Arrived(), 2)
	assert.Equal(t, 200, get(t, s, meetingsPath(1), fakeapi.DefaultToken).status, "the gate stays open")
}

func TestGateRelease(t *testing.T) {
	s := fakeapi.New(fakeapi.WithUsers(1))
	defer s.Close()
	g := s.Gate(2)
	ctx := newBlockedCtx(context.Background())
	done := make(chan int)
	go func() { done <- serve(s, ctx, meetingsPath(1)).Code }()
	<-ctx.waiting
	assert.Equal(t, 1, g.Arrived())
	g.Release()
	assert.Equal(t, 200, <-done)
	assert.False(t, g.Wait(0), "only one ever arrived")
}

func TestCancelledRequestLeavesTheGate(t *testing.T) {
	s := fakeapi.New(fakeapi.WithUsers(1))
	defer s.Close()
	g := s.Gate(2)

	ctx, cancel := context.WithCancel(context.Background())
	bctx := newBlockedCtx(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec := serve(s, bctx, meetingsPath(1))
		assert.Empty(t, rec.Body.Bytes(), "nothing is written for a client that left")
	}()
	<-bctx.waiting
	require.Equal(t, 1, g.Arrived())
	cancel()
	<-done
	assert.Equal(t, 0, g.Arrived(), "a request that left does not count")
	assert.Equal(t, 0, s.Requests()[0].Status)

	// So the gate still needs two at once.
	c1, c2 := newBlockedCtx(context.Background()), newBlockedCtx(context.Background())
	codes := make(chan int, 2)
	go func() { codes <- serve(s, c1, meetingsPath(1)).Code }()
	<-c1.waiting
	go func() { codes <- serve(s, c2, meetingsPath(1)).Code }()
	assert.True(t, g.Wait(30*time.Second))
	assert.Equal(t, 200, <-codes)
	assert.Equal(t, 200, <-codes)
}

func TestCancelledRequestOverTheNetwork(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(1))
	defer s.Close()
	release := s.Hold()
	defer release()

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+meetingsPath(1), nil)
	require.NoError(t, err)
	errc := make(chan error)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	// Waiting for a condition, not for a duration.
	require.Eventually(t, func() bool { return s.Calls() == 1 }, 30*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled)
	// Whether the handler saw the cancellation first or Close released it,
	// Close, which waits for it, returns. (TestCancelledRequestLeavesTheGate
	// shows the handler's side deterministically.)
	s.Close()
}

func TestHold(t *testing.T) {
	s := fakeapi.New(fakeapi.WithUsers(1))
	defer s.Close()
	release := s.Hold()
	ctx := newBlockedCtx(context.Background())
	done := make(chan int)
	go func() { done <- serve(s, ctx, meetingsPath(1)).Code }()
	<-ctx.waiting
	select {
	case <-done:
		t.Fatal("answered while held")
	default:
	}
	release()
	release()
	assert.Equal(t, 200, <-done)
	// Requests after release pass.
	assert.Equal(t, 200, serve(s, context.Background(), meetingsPath(1)).Code)
}

// TestHoldPath holds user 2's calls only: user 1's are answered while they
// are held.
func TestHoldPath(t *testing.T) {
	s := fakeapi.New(fakeapi.WithUsers(2))
	defer s.Close()
	release := s.HoldPath("/api/v1/users/2/*")
	ctx := newBlockedCtx(context.Background())
	done := make(chan int)
	go func() { done <- serve(s, ctx, meetingsPath(2)).Code }()
	<-ctx.waiting
	assert.Equal(t, 200, serve(s, context.Background(), meetingsPath(1)).Code, "another path passes")
	select {
	case <-done:
		t.Fatal("answered while held")
	default:
	}
	release()
	assert.Equal(t, 200, <-done)
	assert.Panics(t, func() { s.HoldPath("[") }, "a malformed pattern")
}

func TestCloseReleasesHeldRequests(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(1))
	s.Hold()
	g := s.Gate(10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		parallel(t, s, 2)
	}()
	require.Eventually(t, func() bool { return g.Arrived() == 2 }, 30*time.Second, time.Millisecond)
	s.Close() // must not hang
	<-done
}

func TestResetReleasesGateAndHolds(t *testing.T) {
	s := fakeapi.New(fakeapi.WithUsers(1))
	defer s.Close()
	s.Hold()
	g := s.Gate(5)
	ctx := newBlockedCtx(context.Background())
	done := make(chan int)
	go func() { done <- serve(s, ctx, meetingsPath(1)).Code }()
	<-ctx.waiting
	s.Reset()
	assert.Equal(t, 200, <-done)
	assert.False(t, g.Wait(0))
	assert.Zero(t, s.Calls())
	assert.Equal(t, 200, serve(s, context.Background(), meetingsPath(1)).Code, "nothing holds after a reset")
}

func TestCounters(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(3), fakeapi.WithTenant("Bearer b", 2))
	defer s.Close()
	start := time.Now()
	get(t, s, meetingsPath(1), fakeapi.DefaultToken)
	get(t, s, threadsPath(2)+"?page=2", fakeapi.DefaultToken)
	get(t, s, threadsPath(3), "Bearer b")
	do(t, s, http.MethodPost, threadsPath(3), "")

	assert.Equal(t, 4, s.Calls())
	assert.Equal(t, 1, s.CallsTo("/api/v1/users/*/meetings"))
	assert.Equal(t, 3, s.CallsTo("/api/v1/users/*/threads"))
	assert.Equal(t, 2, s.CallsTo("/api/v1/users/3/*"))
	assert.Equal(t, 0, s.CallsTo("/api/v1/users/*"), "* does not cross a slash")
	assert.Equal(t, 2, s.CallsBy(fakeapi.DefaultToken))
	assert.Equal(t, 1, s.CallsBy("Bearer b"))
	assert.Equal(t, 1, s.CallsBy(""))
	assert.Panics(t, func() { s.CallsTo("[") })

	reqs := s.Requests()
	require.Len(t, reqs, 4)
	r := reqs[1]
	assert.Equal(t, "GET", r.Method)
	assert.Equal(t, threadsPath(2), r.Path)
	assert.Equal(t, "page=2", r.RawQuery)
	assert.Equal(t, fakeapi.DefaultToken, r.Credential)
	assert.Equal(t, 200, r.Status)
	assert.False(t, r.Time.Before(start))
	assert.Equal(t, "POST", reqs[3].Method)
	assert.Equal(t, 403, reqs[3].Status)
	assert.Equal(t, 1, s.MaxInFlight(), "one at a time")

	s.Reset()
	assert.Zero(t, s.Calls())
	assert.Empty(t, s.Requests())
	assert.Zero(t, s.MaxInFlight())
}

func TestLatencyRespectsCancellation(t *testing.T) {
	s := fakeapi.New(fakeapi.WithUsers(1), fakeapi.WithLatency(time.Hour, time.Hour))
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := serve(s, ctx, meetingsPath(1)) // returns at once, or the test times out
	assert.Empty(t, rec.Body.Bytes())

	s.SetLatency(0, 0)
	assert.Equal(t, 200, serve(s, context.Background(), meetingsPath(1)).Code)
	assert.Panics(t, func() { s.SetLatency(0, -1) })
}
