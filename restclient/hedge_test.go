package restclient_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/salesgraph/salesgraph/ratelimit"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// These tests prove hedging with counts, never with time: the first
// request of each call (the attempt) is held in the client's transport
// until its context ends or the test lets it go, and the hedge, which the
// transport tells apart with restclient.IsHedge, passes to the fake. The
// hedge delay is fixed (MinDelay == MaxDelay) so that no latency history
// is needed; a delay of a minute is one that no call here reaches.

// holdingTransport holds attempts (and the first holdHedge hedges) while hold is set, until
// their context ends or a token arrives on let; with fail set, a held
// attempt let go fails with a connection reset instead of being sent.
type holdingTransport struct {
	next http.RoundTripper
	let  chan struct{}

	mu        sync.Mutex
	hold      bool
	fail      bool
	holdHedge int // so many of the first hedges are held too
	heldHedge int
	sent      []sentRequest
	cancelled int // held attempts whose context ended

	hedgeDone func() // called when a hedge's exchange returns
}

type sentRequest struct {
	hedge  bool
	header http.Header
}

func (t *holdingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	hedge := restclient.IsHedge(req)
	t.mu.Lock()
	t.sent = append(t.sent, sentRequest{hedge, req.Header.Clone()})
	hold, fail, hedgeDone := t.hold && (!hedge || t.heldHedge < t.holdHedge), t.fail, t.hedgeDone
	if hold && hedge {
		t.heldHedge++
	}
	t.mu.Unlock()
	if hold {
		select {
		case <-req.Context().Done():
			t.mu.Lock()
			t.cancelled++
			t.mu.Unlock()
			return nil, req.Context().Err()
		case <-t.let:
		}
		if fail {
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		}
	}
	resp, err := t.next.RoundTrip(req)
	if hedge && hedgeDone != nil {
		hedgeDone()
	}
	return resp, err
}

// CloseIdleConnections lets the client close the connections it opened.
func (t *holdingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *holdingTransport) requests() (attempts, hedges int, sent []sentRequest) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sent {
		if s.hedge {
			hedges++
		} else {
			attempts++
		}
	}
	return attempts, hedges, append([]sentRequest(nil), t.sent...)
}

type hedgeRig struct {
	fake   *fakeapi.Server
	client *restclient.Client
	tr     *holdingTransport

	mu     sync.Mutex
	events map[restclient.HedgeResult]int
}

// newHedgeRig hedges after delay; every refused hedge lets its held
// attempt go, so that a call whose hedge is refused still ends.
func newHedgeRig(t *testing.T, delay time.Duration, opts ...restclient.Option) *hedgeRig {
	t.Helper()
	r := &hedgeRig{
		fake:   fakeapi.NewServer(),
		tr:     &holdingTransport{next: &http.Transport{}, let: make(chan struct{}, 1000)},
		events: map[restclient.HedgeResult]int{},
	}
	t.Cleanup(r.fake.Close)
	base := []restclient.Option{
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}),
		restclient.WithHTTPClient(&http.Client{Transport: r.tr}),
		// One hedge per attempt: these tests hold attempts only, and a
		// second hedge would be due whenever the first took a delay.
		restclient.WithHedging(restclient.HedgePolicy{MinDelay: delay, MaxDelay: delay, MaxHedges: 1}),
		restclient.WithHedgeObserver(func(e restclient.HedgeEvent) {
			r.mu.Lock()
			r.events[e.Result]++
			r.mu.Unlock()
			if e.Result != restclient.HedgeSent && e.Result != restclient.HedgeWon {
				r.tr.let <- struct{}{}
			}
		}),
	}
	c, err := restclient.New(r.fake.URL, append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	r.client = c
	return r
}

func (r *hedgeRig) hedgeEvents() map[restclient.HedgeResult]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[restclient.HedgeResult]int{}
	for k, v := range r.events {
		out[k] = v
	}
	return out
}

func (r *hedgeRig) holdAttempts(fail bool) {
	r.tr.mu.Lock()
	r.tr.hold, r.tr.fail = true, fail
	r.tr.mu.Unlock()
}

// user7Meetings is what the fake's dataset holds for user 7.
func user7Meetings(t *testing.T) []string {
	u, ok := fakeapi.NewDataset().User(7)
	require.True(t, ok)
	return datasetMeetingIDs(u.Meetings)
}

// TestHedgeWinsOverAHeldAttempt: the attempt is held, the hedge is sent
// with the same headers (the caller's credential included), its answer is
// the call's, the attempt is cancelled, and no goroutine is left behind.
func TestHedgeWinsOverAHeldAttempt(t *testing.T) {
	r := newHedgeRig(t, time.Millisecond)
	r.holdAttempts(false)
	ignore := goleak.IgnoreCurrent()

	var mu sync.Mutex
	answers := map[restclient.Answer]int{}
	ctx := restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {fakeapi.DefaultToken}, "X-Request-Id": {"hedge-1"}})
	ctx = restclient.WithAnswerReport(ctx, func(_ string, a restclient.Answer) {
		mu.Lock()
		answers[a]++
		mu.Unlock()
	})
	ms, err := r.client.UserMeetings(ctx, 7)
	require.NoError(t, err)
	assert.Equal(t, user7Meetings(t), meetingIDs(ms), "the hedge's answer is the dataset's")

	attempts, hedges, sent := r.tr.requests()
	assert.Equal(t, 1, attempts)
	assert.Equal(t, 1, hedges)
	require.Len(t, sent, 2)
	assert.Equal(t, sent[0].header, sent[1].header, "the hedge is the attempt's twin, credential and request id included")
	assert.Equal(t, fakeapi.DefaultToken, sent[1].header.Get("Authorization"))
	assert.Equal(t, 1, r.fake.Calls(), "only the hedge reached the upstream")
	assert.Equal(t, fakeapi.DefaultToken, r.fake.Requests()[0].Credential)
	r.tr.mu.Lock()
	assert.Equal(t, 1, r.tr.cancelled, "the losing attempt was cancelled")
	r.tr.mu.Unlock()
	assert.Equal(t, map[restclient.HedgeResult]int{restclient.HedgeSent: 1, restclient.HedgeWon: 1}, r.hedgeEvents())
	mu.Lock()
	assert.Equal(t, map[restclient.Answer]int{restclient.AnswerSent: 2, restclient.AnswerHedged: 1}, answers,
		"the caller's count of exchanges holds the hedge")
	mu.Unlock()

	r.client.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}

// TestHedgeLosesToAnAnswerInTime: answers before the delay send no hedge.
func TestHedgeLosesToAnAnswerInTime(t *testing.T) {
	r := newHedgeRig(t, time.Minute)
	for range 5 {
		ms, err := r.client.UserMeetings(context.Background(), 7)
		require.NoError(t, err)
		assert.Equal(t, user7Meetings(t), meetingIDs(ms))
	}
	attempts, hedges, _ := r.tr.requests()
	assert.Equal(t, 5, attempts)
	assert.Zero(t, hedges)
	assert.Equal(t, 5, r.fake.Calls())
	assert.Empty(t, r.hedgeEvents())
}

// TestHedgeBudget: of 100 calls that all wait past the delay, at most the
// budget's share plus its minimum are hedged (5% of 100 + 10); the others
// are refused and answered by their attempt.
func TestHedgeBudget(t *testing.T) {
	r := newHedgeRig(t, time.Millisecond, restclient.WithHedging(restclient.HedgePolicy{
		MinDelay: time.Millisecond, MaxDelay: time.Millisecond, Budget: 0.05, MinHedges: 10, MaxHedges: 1,
	}))
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	restclient.SetClock(r.client, func() time.Time { return frozen }) // one budget window
	r.holdAttempts(false)
	want := user7Meetings(t)
	for range 100 {
		ms, err := r.client.UserMeetings(context.Background(), 7)
		require.NoError(t, err)
		require.Equal(t, want, meetingIDs(ms))
	}
	ev := r.hedgeEvents()
	assert.Equal(t, 15, ev[restclient.HedgeSent], "10 + 5% of 100 calls")
	assert.Equal(t, 15, ev[restclient.HedgeWon])
	assert.Equal(t, 85, ev[restclient.HedgeRefusedBudget])
	attempts, hedges, _ := r.tr.requests()
	assert.Equal(t, 100, attempts)
	assert.Equal(t, 15, hedges)
	assert.Equal(t, 100, r.fake.Calls(), "85 attempts let go, 15 hedges; the 15 hedged attempts never arrived")
}

// TestHedgeInFlightWinsOverAFailedAttempt: an attempt that fails while its
// hedge is in flight waits for the hedge, whose success is the call's: no
// retry follows, and the failure is not the caller's.
func TestHedgeInFlightWinsOverAFailedAttempt(t *testing.T) {
	var retries atomic.Int32
	var r *hedgeRig
	r = newHedgeRig(t, time.Millisecond,
		restclient.WithRetryObserver(func(restclient.RetryEvent) { retries.Add(1) }),
		// The attempt fails once its hedge is on its way.
		restclient.WithHedgeObserver(func(e restclient.HedgeEvent) {
			if e.Result == restclient.HedgeSent {
				r.tr.let <- struct{}{}
			}
		}))
	r.holdAttempts(true)
	ms, err := r.client.UserMeetings(context.Background(), 7)
	require.NoError(t, err)
	assert.Equal(t, user7Meetings(t), meetingIDs(ms))
	assert.Zero(t, retries.Load(), "the failure was not the caller's: nothing to retry")
	assert.Equal(t, 1, r.fake.Calls(), "the hedge; the failed attempt never arrived")
	attempts, hedges, _ := r.tr.requests()
	assert.Equal(t, [2]int{1, 1}, [2]int{attempts, hedges})
}

// TestNoHedgeAfterAFailure: an attempt that fails before its delay is the
// retry policy's: it is retried, not hedged.
func TestNoHedgeAfterAFailure(t *testing.T) {
	var retries int
	r := newHedgeRig(t, time.Minute, restclient.WithRetryObserver(func(e restclient.RetryEvent) {
		if e.Denied == "" {
			retries++
		}
	}))
	restclient.SetRetrySleep(r.client, func(ctx context.Context, _ time.Duration) error { return ctx.Err() })
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusServiceUnavailable, Times: 1})
	ms, err := r.client.UserMeetings(context.Background(), 7)
	require.NoError(t, err)
	assert.Equal(t, user7Meetings(t), meetingIDs(ms))
	assert.Equal(t, 1, retries)
	assert.Equal(t, 2, r.fake.Calls(), "the attempt and its retry")
	_, hedges, _ := r.tr.requests()
	assert.Zero(t, hedges)
	assert.Empty(t, r.hedgeEvents())
}

// TestHedgeTakesARateLimitTurn: a hedge is a request like any other for
// the rate limit. With a burst of 2, the hedge takes the second turn and
// the next call is refused; with a burst of 1, the hedge is refused and
// the attempt answers.
func TestHedgeTakesARateLimitTurn(t *testing.T) {
	t.Run("burst 2", func(t *testing.T) {
		l, err := ratelimit.NewLocal(0.001, 2, ratelimit.Hooks{})
		require.NoError(t, err)
		r := newHedgeRig(t, time.Millisecond, restclient.WithRateLimiter(l))
		r.holdAttempts(false)
		_, err = r.client.UserMeetings(context.Background(), 7)
		require.NoError(t, err)
		assert.Equal(t, map[restclient.HedgeResult]int{restclient.HedgeSent: 1, restclient.HedgeWon: 1}, r.hedgeEvents())

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err = r.client.UserMeetings(ctx, 7)
		require.ErrorIs(t, err, ratelimit.ErrRateLimited, "the hedge took the last turn")
		assert.Equal(t, 1, r.fake.Calls())
	})
	t.Run("burst 1", func(t *testing.T) {
		l, err := ratelimit.NewLocal(0.001, 1, ratelimit.Hooks{})
		require.NoError(t, err)
		r := newHedgeRig(t, time.Millisecond, restclient.WithRateLimiter(l))
		r.holdAttempts(false)
		ms, err := r.client.UserMeetings(context.Background(), 7)
		require.NoError(t, err)
		assert.Equal(t, user7Meetings(t), meetingIDs(ms))
		assert.Equal(t, map[restclient.HedgeResult]int{restclient.HedgeRefusedRateLimit: 1}, r.hedgeEvents())
		_, hedges, _ := r.tr.requests()
		assert.Zero(t, hedges, "refused, the hedge is not sent")
		assert.Equal(t, 1, r.fake.Calls())
	})
}

// TestBreakerCountsTheHedge: a hedge's failure counts for the breaker,
// though the call it doubled succeeds. With MinRequests 1, the hedge's 503
// alone opens it.
func TestBreakerCountsTheHedge(t *testing.T) {
	r := newHedgeRig(t, time.Millisecond,
		restclient.WithoutRetry(),
		restclient.WithCircuitBreaker(restclient.BreakerSettings{MinRequests: 1, FailureRatio: 0.5}))
	r.holdAttempts(false)
	r.tr.hedgeDone = func() { r.tr.let <- struct{}{} } // the attempt goes once the hedge has failed
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusServiceUnavailable, Times: 1})

	ms, err := r.client.UserMeetings(context.Background(), 7)
	require.NoError(t, err, "the hedge's failure is ignored: the attempt succeeded")
	assert.Equal(t, user7Meetings(t), meetingIDs(ms))
	assert.Equal(t, 2, r.fake.Calls())
	assert.Equal(t, restclient.BreakerOpen, r.client.BreakerState(), "the hedge's 503 was counted")
	assert.Equal(t, map[restclient.HedgeResult]int{restclient.HedgeSent: 1}, r.hedgeEvents())

	// Open, it refuses the next call, which is not sent, nor hedged.
	_, err = r.client.UserMeetings(context.Background(), 7)
	require.ErrorIs(t, err, restclient.ErrCircuitOpen)
	assert.Equal(t, 2, r.fake.Calls())
}

// TestHedgePolicyProblems: WithHedging refuses settings that make no sense.
func TestHedgePolicyProblems(t *testing.T) {
	for name, p := range map[string]restclient.HedgePolicy{
		"percentile 1":    {Percentile: 1},
		"max below min":   {MinDelay: time.Second, MaxDelay: time.Millisecond},
		"budget above 1":  {Budget: 1.5},
		"negative budget": {Budget: -0.1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := restclient.New("http://example.com", restclient.WithHedging(p))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "WithHedging")
		})
	}
	assert.Empty(t, restclient.DefaultHedgePolicy().Problems())
}

// TestSharedCallIsHedgedOnce: hedging sits below the sharing of identical
// calls in flight, so a call that others joined is one logical call, hedged
// once for all of them. The fake holds the hedge until the second caller
// has joined.
func TestSharedCallIsHedgedOnce(t *testing.T) {
	var joined atomic.Int32
	r := newHedgeRig(t, time.Millisecond, restclient.WithShareObserver(func(string) { joined.Add(1) }))
	r.holdAttempts(false)
	release := r.fake.Hold()
	defer release()

	want := user7Meetings(t)
	errs := make(chan error, 2)
	call := func() {
		ms, err := r.client.UserMeetings(context.Background(), 7)
		if err == nil && !assert.Equal(t, want, meetingIDs(ms)) {
			err = errors.New("wrong meetings")
		}
		errs <- err
	}
	go call()
	require.Eventually(t, func() bool { return len(r.fake.Requests()) == 1 }, 10*time.Second, time.Millisecond, "the hedge reached the upstream")
	go call()
	require.Eventually(t, func() bool { return joined.Load() == 1 }, 10*time.Second, time.Millisecond, "the second call joined the first")
	release()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)

	attempts, hedges, _ := r.tr.requests()
	assert.Equal(t, [2]int{1, 1}, [2]int{attempts, hedges}, "one attempt, one hedge, for both callers")
	assert.Equal(t, 1, r.fake.Calls())
	assert.Equal(t, map[restclient.HedgeResult]int{restclient.HedgeSent: 1, restclient.HedgeWon: 1}, r.hedgeEvents())
}
