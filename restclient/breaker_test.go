package restclient_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/ratelimit"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// breakerRig is a client with retries off, so that every call is one
// attempt the breaker counts, and a record of the breaker's transitions.
type breakerRig struct {
	fake   *fakeapi.Server
	client *restclient.Client

	mu      sync.Mutex
	changes []string
}

func newBreakerRig(t *testing.T, s restclient.BreakerSettings, opts ...restclient.Option) *breakerRig {
	t.Helper()
	r := &breakerRig{fake: fakeapi.NewServer()}
	t.Cleanup(r.fake.Close)
	base := []restclient.Option{
		restclient.WithoutRetry(),
		restclient.WithCircuitBreaker(s),
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}),
		restclient.WithBreakerObserver(func(from, to restclient.BreakerState) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.changes = append(r.changes, from.String()+"→"+to.String())
		}),
	}
	c, err := restclient.New(r.fake.URL, append(base, opts...)...)
	require.NoError(t, err)
	r.client = c
	return r
}

func (r *breakerRig) transitions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.changes...)
}

func (r *breakerRig) call(user int64) error {
	_, err := r.client.UserMeetings(context.Background(), user)
	return err
}

// longOpen keeps the breaker open for the whole test once it opens.
var longOpen = restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 4, OpenTimeout: time.Hour}

// sick makes the meetings of users fail with status.
func (r *breakerRig) sick(status int, users ...int64) (remove func()) {
	var removes []func()
	for _, u := range users {
		removes = append(removes, r.fake.Inject(fakeapi.Fault{Path: userMeetingsPath(u), Kind: fakeapi.FaultStatus, Status: status}))
	}
	return func() {
		for _, rm := range removes {
			rm()
		}
	}
}

func userMeetingsPath(user int64) string {
	return "/api/v1/users/" + strconv.FormatInt(user, 10) + "/meetings"
}

func TestBreakerOpensOnTheFailureRatio(t *testing.T) {
	r := newBreakerRig(t, longOpen)
	r.sick(503, 2, 3)

	require.NoError(t, r.call(1))
	require.Error(t, r.call(2))
	require.NoError(t, r.call(1))
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState(), "1 failure in 3: under the minimum")
	require.Error(t, r.call(3)) // 2 failures in 4: the ratio is met
	assert.Equal(t, restclient.BreakerOpen, r.client.BreakerState())
	assert.False(t, r.client.Ready())
	assert.Equal(t, []string{"closed→open"}, r.transitions())

	// Open: every call fails at once, healthy users' too, and nothing is sent.
	before := r.fake.Calls()
	for _, u := range []int64{1, 2, 3} {
		err := r.call(u)
		assert.ErrorIs(t, err, restclient.ErrCircuitOpen)
		var ce *restclient.CircuitOpenError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, restclient.EndpointUserMeetings, ce.Endpoint)
		assert.False(t, ce.HalfOpen)
		assert.NotContains(t, err.Error(), r.fake.URL[len("http://"):])
	}
	assert.Equal(t, before, r.fake.Calls(), "an open breaker sends nothing")
}

func TestBreakerOpensOnARunOfFailuresWhateverTheWindowHolds(t *testing.T) {
	// A window full of successes would keep the ratio under its threshold
	// long into an outage; a run of MinRequests failures in a row opens the
	// breaker however many successes came before, and however fast.
	r := newBreakerRig(t, longOpen)
	for range 40 {
		require.NoError(t, r.call(1))
	}
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	for u := range int64(longOpen.MinRequests - 1) {
		require.Error(t, r.call(u+1))
	}
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState(), "one failure short of the run")
	require.Error(t, r.call(int64(longOpen.MinRequests)))
	assert.Equal(t, restclient.BreakerOpen, r.client.BreakerState(), "4 failures in a row, though only 4 in 44")
	assert.Equal(t, []string{"closed→open"}, r.transitions())
	assert.Equal(t, 40+longOpen.MinRequests, r.fake.Calls())
}

func TestBreakerRunIsBrokenBySuccesses(t *testing.T) {
	r := newBreakerRig(t, longOpen)
	for range 40 {
		require.NoError(t, r.call(1))
	}
	// Three failures, a success, three failures: 6 in 47, never 4 in a row.
	r.sick(503, 2, 3, 4, 5, 6, 7)
	for _, u := range []int64{2, 3, 4, 1, 5, 6, 7} {
		_ = r.call(u)
	}
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState())
	assert.Empty(t, r.transitions())
}

// TestBreakerCountsAPathOnceUntilItSucceeds: one user's list failing in a
// loop says nothing of the upstream's other lists (issue 18): its failures
// count once, however many, until it succeeds again.
func TestBreakerCountsAPathOnceUntilItSucceeds(t *testing.T) {
	never := restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 4, OpenTimeout: time.Hour, PathFailures: -1}
	r := newBreakerRig(t, never)
	heal := r.sick(500, 2)
	for range 50 {
		require.Error(t, r.call(2))
	}
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState(), "50 failures of one path are one failure")
	assert.Equal(t, 50, r.fake.Calls(), "with ejection off, every call is sent")

	// Once it succeeds, its next failure counts again: with user 3's,
	// that is 2 in a row out of 4 calls.
	heal()
	require.NoError(t, r.call(2))
	r.sick(500, 2, 3)
	require.Error(t, r.call(2))
	require.Error(t, r.call(2))
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState())
	require.Error(t, r.call(3))
	assert.Equal(t, restclient.BreakerOpen, r.client.BreakerState(), "failures of two paths: 2 of the 3 counted calls, 3 of 4 before")
}

func TestBreakerCountsOnlyUpstreamFailures(t *testing.T) {
	// One counted failure would open this breaker.
	tight := restclient.BreakerSettings{FailureRatio: 0.01, MinRequests: 1, OpenTimeout: time.Hour}
	notFailures := []struct {
		name  string
		fault fakeapi.Fault
	}{
		{"400", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 400}},
		{"403", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 403}},
		{"404", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 404}},
		{"403 in an envelope", fakeapi.Fault{Kind: fakeapi.FaultErrorEnvelope}},
		{"429", fakeapi.Fault{Kind: fakeapi.FaultRateLimit}},
	}
	for _, tt := range notFailures {
		t.Run(tt.name, func(t *testing.T) {
			r := newBreakerRig(t, tight)
			r.fake.Inject(tt.fault)
			for range 5 {
				require.Error(t, r.call(7))
			}
			assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState())
			assert.Equal(t, 5, r.fake.Calls())
		})
	}
	t.Run("cancelled by the caller", func(t *testing.T) {
		r := newBreakerRig(t, tight)
		for range 5 {
			release := r.fake.Hold()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := r.client.UserMeetings(ctx, 7)
				done <- err
			}()
			require.Eventually(t, func() bool { return r.fake.Calls() > 0 }, 5*time.Second, time.Millisecond, "the call reached the upstream")
			cancel()
			assert.ErrorIs(t, <-done, context.Canceled)
			release()
			r.fake.Reset()
		}
		assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState())
	})

	failures := []struct {
		name  string
		fault fakeapi.Fault
		opts  []restclient.Option
	}{
		{"500", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500}, nil},
		{"503", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503}, nil},
		{"dropped connection", fakeapi.Fault{Kind: fakeapi.FaultDropConnection}, nil},
		{"HTML", fakeapi.Fault{Kind: fakeapi.FaultWrongContentType}, nil},
		{"timeout", fakeapi.Fault{Kind: fakeapi.FaultDelay, Delay: time.Minute}, []restclient.Option{restclient.WithTimeout(50 * time.Millisecond)}},
	}
	for _, tt := range failures {
		t.Run(tt.name+" opens it", func(t *testing.T) {
			r := newBreakerRig(t, tight, tt.opts...)
			r.fake.Inject(tt.fault)
			require.Error(t, r.call(7))
			assert.Equal(t, restclient.BreakerOpen, r.client.BreakerState())
		})
	}
}

func TestBreakerProbesWhileHalfOpenAndRecovers(t *testing.T) {
	r := newBreakerRig(t, restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 2, OpenTimeout: 20 * time.Millisecond, HalfOpenProbes: 2})
	remove := r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	require.Error(t, r.call(1))
	require.Error(t, r.call(2))
	require.Equal(t, restclient.BreakerOpen, r.client.BreakerState())
	remove()

	require.Eventually(t, func() bool { return r.client.BreakerState() == restclient.BreakerHalfOpen },
		5*time.Second, time.Millisecond, "the breaker half-opens after OpenTimeout")
	assert.False(t, !r.client.Ready(), "a half-open breaker lets probes through")

	// Both probes are admitted before either is answered: the gate holds
	// the first until the second arrives.
	gate := r.fake.Gate(2)
	var wg sync.WaitGroup
	for _, u := range []int64{1, 2} {
		wg.Go(func() { assert.NoError(t, r.call(u)) })
	}
	require.True(t, gate.Wait(5*time.Second), "both probes reached the upstream together")
	wg.Wait()
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState(), "two successful probes close it")
	assert.Equal(t, []string{"closed→open", "open→half-open", "half-open→closed"}, r.transitions())
	require.NoError(t, r.call(3))
}

func TestBreakerHalfOpenRefusesBeyondItsProbes(t *testing.T) {
	r := newBreakerRig(t, restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 1, OpenTimeout: 20 * time.Millisecond, HalfOpenProbes: 1})
	remove := r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	require.Error(t, r.call(1))
	remove()
	require.Eventually(t, func() bool { return r.client.BreakerState() == restclient.BreakerHalfOpen }, 5*time.Second, time.Millisecond)

	release := r.fake.Hold()
	probe := make(chan error, 1)
	go func() { probe <- r.call(1) }()
	require.Eventually(t, func() bool { return r.fake.Calls() == 2 }, 5*time.Second, time.Millisecond, "the probe is in flight")
	err := r.call(2)
	var ce *restclient.CircuitOpenError
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.HalfOpen)
	assert.Equal(t, 2, r.fake.Calls(), "the refused call was not sent")
	release()
	require.NoError(t, <-probe)
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState())
}

func TestBreakerFailedProbeReopens(t *testing.T) {
	r := newBreakerRig(t, restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 1, OpenTimeout: 20 * time.Millisecond, HalfOpenProbes: 3})
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 502})
	require.Error(t, r.call(1))
	require.Eventually(t, func() bool { return r.client.BreakerState() == restclient.BreakerHalfOpen }, 5*time.Second, time.Millisecond)
	require.Error(t, r.call(1))
	assert.Equal(t, []string{"closed→open", "open→half-open", "half-open→open"}, r.transitions())
	assert.ErrorIs(t, r.call(1), restclient.ErrCircuitOpen)
}

// TestARetryTheBreakerRefusesReturnsWhatTheUpstreamSaid: a call whose
// first attempt reached the upstream gets the upstream's own failure when
// the breaker, opened meanwhile, refuses its retry (issue 18: in outages
// every client saw only UPSTREAM_CIRCUIT_OPEN).
func TestARetryTheBreakerRefusesReturnsWhatTheUpstreamSaid(t *testing.T) {
	var attempts []restclient.CallInfo
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	c, err := restclient.New(fake.URL,
		restclient.WithCircuitBreaker(restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 2, OpenTimeout: time.Hour}),
		restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 5}),
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}),
		restclient.WithObserver(func(ci restclient.CallInfo) { attempts = append(attempts, ci) }))
	require.NoError(t, err)
	fake.Inject(fakeapi.Fault{Path: userMeetingsPath(7), Kind: fakeapi.FaultStatus, Status: 503})
	fake.Inject(fakeapi.Fault{Path: userMeetingsPath(8), Kind: fakeapi.FaultStatus, Status: 500})
	// While user 7's call waits to retry, user 8's fails too (a 500: no
	// retry of its own): two paths failing in a row open the breaker.
	opened := false
	restclient.SetRetrySleep(c, func(context.Context, time.Duration) error {
		if !opened {
			opened = true
			_, err := c.UserMeetings(context.Background(), 8)
			require.True(t, restclient.IsServerError(err))
			require.Equal(t, restclient.BreakerOpen, c.BreakerState())
		}
		return nil
	})

	_, err = c.UserMeetings(context.Background(), 7)
	assert.NotErrorIs(t, err, restclient.ErrCircuitOpen)
	var ae *restclient.APIError
	require.ErrorAs(t, err, &ae, "the first attempt's answer")
	assert.Equal(t, 503, ae.HTTPStatus)
	assert.Equal(t, userMeetingsPath(7), ae.Path)
	assert.Equal(t, 2, fake.Calls(), "user 7 once, user 8 once")
	require.Len(t, attempts, 3, "two sent, the retry refused unsent and observed")
	assert.Equal(t, userMeetingsPath(8), attempts[1].Path)
	assert.Equal(t, 2, attempts[2].Attempt)
	assert.Equal(t, 0, attempts[2].HTTPStatus)
	assert.ErrorIs(t, attempts[2].Err, restclient.ErrCircuitOpen)

	// A call that never reached the upstream gets the breaker's refusal.
	_, err = c.UserMeetings(context.Background(), 1)
	assert.ErrorIs(t, err, restclient.ErrCircuitOpen)
}

// refuseAfter admits n calls, then refuses every one as past its deadline.
type refuseAfter struct{ n atomic.Int64 }

func (r *refuseAfter) Wait(context.Context) error {
	if r.n.Add(-1) < 0 {
		return &ratelimit.Error{Wait: time.Hour}
	}
	return nil
}

func TestARetryTheRateLimitRefusesReturnsWhatTheUpstreamSaid(t *testing.T) {
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	limit := &refuseAfter{}
	limit.n.Store(1)
	c, err := restclient.New(fake.URL,
		restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 3}),
		restclient.WithRateLimiter(limit),
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))
	require.NoError(t, err)
	restclient.SetRetrySleep(c, func(context.Context, time.Duration) error { return nil })
	fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultDropConnection})

	_, err = c.UserMeetings(context.Background(), 7)
	assert.Equal(t, restclient.KindUnreachable, restclient.Classify(err).Kind, "the first attempt's failure: %v", err)
	assert.NotErrorIs(t, err, ratelimit.ErrRateLimited)
	_, err = c.UserMeetings(context.Background(), 7)
	assert.ErrorIs(t, err, ratelimit.ErrRateLimited, "refused before it reached the upstream")
}

func TestBreakerObserverMayReadTheState(t *testing.T) {
	var seen []restclient.BreakerState
	var c *restclient.Client
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	c, err := restclient.New(fake.URL, restclient.WithoutRetry(),
		restclient.WithCircuitBreaker(restclient.BreakerSettings{MinRequests: 1, OpenTimeout: time.Hour}),
		restclient.WithBreakerObserver(func(_, to restclient.BreakerState) {
			seen = append(seen, c.BreakerState()) // must not deadlock
		}))
	require.NoError(t, err)
	fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500})
	_, _ = c.UserMeetings(context.Background(), 7)
	assert.Equal(t, []restclient.BreakerState{restclient.BreakerOpen}, seen)
}

func TestWithoutCircuitBreaker(t *testing.T) {
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	c, err := restclient.New(fake.URL, restclient.WithoutRetry(), restclient.WithoutCircuitBreaker())
	require.NoError(t, err)
	fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500})
	for range 30 {
		_, err := c.UserMeetings(context.Background(), 7)
		assert.NotErrorIs(t, err, restclient.ErrCircuitOpen)
	}
	assert.Equal(t, 30, fake.Calls())
	assert.Equal(t, restclient.BreakerClosed, c.BreakerState())
	assert.True(t, c.Ready())
}

func TestBreakerOptionsAreValidated(t *testing.T) {
	for name, s := range map[string]restclient.BreakerSettings{
		"ratio above one":  {FailureRatio: 1.5},
		"negative ratio":   {FailureRatio: -0.5},
		"negative minimum": {MinRequests: -1},
		"negative probes":  {HalfOpenProbes: -1},
		"negative window":  {Window: -time.Second},
		"negative open":    {OpenTimeout: -time.Second},
		"too many probes":  {HalfOpenProbes: 1001},
	} {
		_, err := restclient.New("https://crm.example.com", restclient.WithCircuitBreaker(s))
		assert.Error(t, err, name)
	}
	assert.Equal(t, "half-open", restclient.BreakerHalfOpen.String())
}
