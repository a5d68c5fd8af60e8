package restclient_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

const meetingsPath = "/api/v1/users/7/meetings"

// retryRig is a client in front of a fake upstream whose waits between
// attempts are recorded instead of slept, and whose retry events and
// attempts are recorded.
type retryRig struct {
	fake   *fakeapi.Server
	client *restclient.Client

	mu       sync.Mutex
	waits    []time.Duration
	events   []restclient.RetryEvent
	attempts []restclient.CallInfo
}

func newRetryRig(t *testing.T, opts ...restclient.Option) *retryRig {
	t.Helper()
	r := &retryRig{fake: fakeapi.NewServer()}
	t.Cleanup(r.fake.Close)
	base := []restclient.Option{
		restclient.WithoutCircuitBreaker(), // breaker_test.go covers it
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}),
		restclient.WithRetryObserver(func(e restclient.RetryEvent) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.events = append(r.events, e)
		}),
		restclient.WithObserver(func(ci restclient.CallInfo) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.attempts = append(r.attempts, ci)
		}),
		// No keep-alives: Go's transport replays a request by itself when a
		// reused connection drops, which would blur the counts.
		restclient.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}),
	}
	c, err := restclient.New(r.fake.URL, append(base, opts...)...)
	require.NoError(t, err)
	restclient.SetRetrySleep(c, func(ctx context.Context, d time.Duration) error {
		r.mu.Lock()
		r.waits = append(r.waits, d)
		r.mu.Unlock()
		return ctx.Err()
	})
	r.client = c
	return r
}

func (r *retryRig) recorded() ([]time.Duration, []restclient.RetryEvent, []restclient.CallInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...), append([]restclient.RetryEvent(nil), r.events...), append([]restclient.CallInfo(nil), r.attempts...)
}

// TestRetryDecision sends one call per fault class and counts the attempts
// the upstream saw: only connection failures, 429 and 502–504 are retried.
func TestRetryDecision(t *testing.T) {
	tests := []struct {
		name     string
		fault    fakeapi.Fault
		attempts int
		check    func(t *testing.T, err error)
	}{
		{"500", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500}, 1, isServerError},
		{"502", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 502}, 3, isServerError},
		{"503", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503}, 3, isServerError},
		{"504", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 504}, 3, isServerError},
		{"429", fakeapi.Fault{Kind: fakeapi.FaultRateLimit}, 3, func(t *testing.T, err error) { assert.True(t, restclient.IsRateLimited(err), "%v", err) }},
		{"400", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 400}, 1, func(t *testing.T, err error) { assert.True(t, restclient.IsBadRequest(err), "%v", err) }},
		{"403", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 403}, 1, func(t *testing.T, err error) { assert.True(t, restclient.IsForbidden(err), "%v", err) }},
		{"404", fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 404}, 1, func(t *testing.T, err error) { assert.Equal(t, 404, apiCode(t, err)) }},
		{"403 in a 200 envelope", fakeapi.Fault{Kind: fakeapi.FaultErrorEnvelope}, 1, func(t *testing.T, err error) { assert.True(t, restclient.IsForbidden(err), "%v", err) }},
		{"503 in a 200 envelope", fakeapi.Fault{Kind: fakeapi.FaultErrorEnvelope, Status: 503}, 3, isServerError},
		{"malformed JSON", fakeapi.Fault{Kind: fakeapi.FaultMalformedJSON}, 1, isDecodeError},
		{"HTML", fakeapi.Fault{Kind: fakeapi.FaultWrongContentType}, 1, isDecodeError},
		{"empty body", fakeapi.Fault{Kind: fakeapi.FaultEmptyBody}, 1, isDecodeError},
		{"truncated body", fakeapi.Fault{Kind: fakeapi.FaultTruncated}, 3, isTransportError},
		{"reset mid-body", fakeapi.Fault{Kind: fakeapi.FaultResetMidBody}, 3, isTransportError},
		{"dropped connection", fakeapi.Fault{Kind: fakeapi.FaultDropConnection}, 3, func(t *testing.T, err error) {
			var te *restclient.TransportError
			assert.ErrorAs(t, err, &te)
			assert.NotErrorIs(t, err, restclient.ErrTimeout)
		}},
		{"numbers as strings", fakeapi.Fault{Kind: fakeapi.FaultNumbersAsStrings}, 1, func(t *testing.T, err error) { assert.NoError(t, err) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRetryRig(t)
			r.fake.Inject(tt.fault)
			_, err := r.client.UserMeetings(context.Background(), 7)
			tt.check(t, err)
			assert.Equal(t, tt.attempts, r.fake.CallsTo(meetingsPath), "attempts the upstream saw")
			waits, events, attempts := r.recorded()
			assert.Len(t, waits, tt.attempts-1, "one wait before each retry")
			require.Len(t, attempts, tt.attempts, "the observer sees every attempt")
			for i, a := range attempts {
				assert.Equal(t, i+1, a.Attempt)
			}
			if tt.attempts > 1 {
				require.Len(t, events, tt.attempts, "a retry event per retried attempt, then the denial")
				assert.Equal(t, restclient.RetryDeniedAttempts, events[len(events)-1].Denied)
			} else {
				assert.Empty(t, events, "no retry event for an error that is not retryable")
			}
		})
	}
}

func isServerError(t *testing.T, err error) {
	t.Helper()
	assert.True(t, restclient.IsServerError(err), "%v", err)
}

func isTransportError(t *testing.T, err error) {
	t.Helper()
	var te *restclient.TransportError
	assert.ErrorAs(t, err, &te)
	assert.NotErrorIs(t, err, restclient.ErrTimeout)
}

func isDecodeError(t *testing.T, err error) {
	t.Helper()
	var de *restclient.DecodeError
	assert.ErrorAs(t, err, &de)
}

func apiCode(t *testing.T, err error) int {
	t.Helper()
	var ae *restclient.APIError
	require.ErrorAs(t, err, &ae)
	return ae.Code()
}

func TestRetrySucceedsWhenTheUpstreamRecovers(t *testing.T) {
	r := newRetryRig(t)
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503, Times: 2})
	ms, err := r.client.UserMeetings(context.Background(), 7)
	require.NoError(t, err)
	u, ok := r.fake.Dataset().User(7)
	require.True(t, ok)
	assert.Len(t, ms, len(u.Meetings))
	assert.Equal(t, 3, r.fake.CallsTo(meetingsPath))
	_, events, attempts := r.recorded()
	require.Len(t, events, 2)
	for i, e := range events {
		assert.Equal(t, i+1, e.Attempt)
		assert.Empty(t, e.Denied)
		assert.Equal(t, restclient.EndpointUserMeetings, e.Endpoint)
		assert.True(t, restclient.IsServerError(e.Err))
	}
	require.Len(t, attempts, 3)
	assert.Equal(t, []int{503, 503, 200}, []int{attempts[0].HTTPStatus, attempts[1].HTTPStatus, attempts[2].HTTPStatus})
}

func TestRetryBackoffIsExponentialWithFullJitter(t *testing.T) {
	r := newRetryRig(t, restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond}))
	var ceilings []time.Duration
	// The jitter source is asked for a value in [0, ceiling]; answering
	// the top shows the ceiling in the waits.
	restclient.SetRetryJitter(r.client, func(n int64) int64 {
		ceilings = append(ceilings, time.Duration(n-1))
		return n - 1
	})
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 502})
	_, err := r.client.UserMeetings(context.Background(), 7)
	require.Error(t, err)
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	assert.Equal(t, want, ceilings, "base·2^(n-1), capped at MaxDelay")
	waits, _, _ := r.recorded()
	assert.Equal(t, want, waits)
	assert.Equal(t, 5, r.fake.CallsTo(meetingsPath))

	// With the jitter source at the bottom, retries leave at once.
	r2 := newRetryRig(t)
	restclient.SetRetryJitter(r2.client, func(int64) int64 { return 0 })
	r2.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 502})
	_, _ = r2.client.UserMeetings(context.Background(), 7)
	waits, _, _ = r2.recorded()
	assert.Equal(t, []time.Duration{0, 0}, waits)
}

func TestRetryAfter(t *testing.T) {
	t.Run("honoured up to the cap", func(t *testing.T) {
		r := newRetryRig(t)
		r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultRateLimit, RetryAfter: "2", Times: 1})
		_, err := r.client.UserMeetings(context.Background(), 7)
		require.NoError(t, err)
		waits, _, _ := r.recorded()
		assert.Equal(t, []time.Duration{2 * time.Second}, waits, "the wait the upstream asked for, not the backoff")
		assert.Equal(t, 2, r.fake.CallsTo(meetingsPath))
	})
	t.Run("as an HTTP date", func(t *testing.T) {
		r := newRetryRig(t)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		restclient.SetClock(r.client, func() time.Time { return now })
		r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultRateLimit, RetryAfter: now.Add(time.Second).Format(http.TimeFormat), Times: 1})
		_, err := r.client.UserMeetings(context.Background(), 7)
		require.NoError(t, err)
		waits, _, _ := r.recorded()
		assert.Equal(t, []time.Duration{time.Second}, waits)
	})
	t.Run("beyond the cap is returned at once", func(t *testing.T) {
		r := newRetryRig(t)
		r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultRateLimit, RetryAfter: "120"})
		_, err := r.client.UserMeetings(context.Background(), 7)
		var ae *restclient.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 2*time.Minute, ae.RetryAfter, "the caller learns how long to wait")
		assert.Equal(t, 1, r.fake.CallsTo(meetingsPath))
		waits, events, _ := r.recorded()
		assert.Empty(t, waits)
		require.Len(t, events, 1)
		assert.Equal(t, restclient.RetryDeniedRetryAfter, events[0].Denied)
	})
	t.Run("on a 503", func(t *testing.T) {
		mux := http.NewServeMux()
		calls := 0
		mux.HandleFunc(meetingsPath, func(w http.ResponseWriter, _ *http.Request) {
			calls++
			if calls == 1 {
				w.Header().Set("Retry-After", "4")
				w.WriteHeader(503)
				return
			}
			reply(200, `{"status":200,"data":{"list":[]}}`)(w, nil)
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		c, err := restclient.New(srv.URL, restclient.WithRetry(restclient.RetryPolicy{MaxRetryAfter: 5 * time.Second}))
		require.NoError(t, err)
		var waits []time.Duration
		restclient.SetRetrySleep(c, func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil })
		_, err = c.UserMeetings(context.Background(), 7)
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{4 * time.Second}, waits)
		assert.Equal(t, 2, calls)
	})
}

func TestRetryNeverWaitsPastTheDeadline(t *testing.T) {
	r := newRetryRig(t, restclient.WithRetry(restclient.RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour}))
	restclient.SetRetryJitter(r.client, func(n int64) int64 { return n - 1 })
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := r.client.UserMeetings(ctx, 7)
	assert.True(t, restclient.IsServerError(err), "the last answer, not a timeout: %v", err)
	assert.NotErrorIs(t, err, restclient.ErrTimeout)
	assert.Equal(t, 1, r.fake.CallsTo(meetingsPath))
	waits, events, _ := r.recorded()
	assert.Empty(t, waits, "no wait that the deadline cannot fit")
	require.Len(t, events, 1)
	assert.Equal(t, restclient.RetryDeniedDeadline, events[0].Denied)

	// The same wait fits a later deadline.
	r.fake.Reset()
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503, Times: 1})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel2()
	_, err = r.client.UserMeetings(ctx2, 7)
	require.NoError(t, err)
	assert.Equal(t, 2, r.fake.CallsTo(meetingsPath))
}

func TestRetryWaitEndsWithTheCaller(t *testing.T) {
	r := newRetryRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	restclient.SetRetrySleep(r.client, func(ctx context.Context, _ time.Duration) error {
		cancel() // the caller leaves during the wait
		<-ctx.Done()
		return ctx.Err()
	})
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	_, err := r.client.UserMeetings(ctx, 7)
	assert.ErrorIs(t, err, context.Canceled)
	var te *restclient.TransportError
	assert.ErrorAs(t, err, &te)
	assert.Equal(t, 1, r.fake.CallsTo(meetingsPath))
}

func TestRetryBudget(t *testing.T) {
	const (
		share      = 0.1
		minRetries = 1
		calls      = 40
	)
	r := newRetryRig(t, restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 2, Budget: share, MinRetries: minRetries, BudgetWindow: 10 * time.Second}))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	restclient.SetClock(r.client, func() time.Time { return now })
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})

	// The budget's rule, applied call by call: a retry is allowed while
	// retries+1 <= min + share × calls.
	wantRetries := 0
	for i := 1; i <= calls; i++ {
		if float64(wantRetries+1) <= minRetries+share*float64(i) {
			wantRetries++
		}
		_, err := r.client.UserMeetings(context.Background(), 7)
		require.Error(t, err)
	}
	assert.Equal(t, calls+wantRetries, r.fake.CallsTo(meetingsPath))
	assert.Equal(t, 5, wantRetries, "1 + 10% of 40")
	_, events, _ := r.recorded()
	denied := 0
	for _, e := range events {
		if e.Denied == restclient.RetryDeniedBudget {
			denied++
		}
	}
	assert.Equal(t, calls-wantRetries, denied)

	// Once the window has passed, the budget is whole again.
	now = now.Add(11 * time.Second)
	r.fake.Reset()
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	_, _ = r.client.UserMeetings(context.Background(), 7)
	assert.Equal(t, 2, r.fake.CallsTo(meetingsPath))
}

func TestWithoutRetry(t *testing.T) {
	r := newRetryRig(t, restclient.WithoutRetry())
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	_, err := r.client.UserMeetings(context.Background(), 7)
	assert.True(t, restclient.IsServerError(err))
	assert.Equal(t, 1, r.fake.CallsTo(meetingsPath))
	_, events, _ := r.recorded()
	assert.Empty(t, events)
}

func TestRetryConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	var attempts []restclient.CallInfo
	c, err := restclient.New("http://"+addr, restclient.WithoutCircuitBreaker(),
		restclient.WithObserver(func(ci restclient.CallInfo) { attempts = append(attempts, ci) }))
	require.NoError(t, err)
	restclient.SetRetrySleep(c, func(context.Context, time.Duration) error { return nil })
	_, err = c.UserMeetings(context.Background(), 7)
	var te *restclient.TransportError
	require.ErrorAs(t, err, &te)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Len(t, attempts, 3)
}

func TestRetryNotForRequestsNetHTTPRefuses(t *testing.T) {
	r := newRetryRig(t)
	ctx := restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {"Bearer bad\r\nvalue"}})
	_, err := r.client.UserMeetings(ctx, 7)
	var te *restclient.TransportError
	require.ErrorAs(t, err, &te)
	assert.Zero(t, r.fake.Calls())
	_, events, attempts := r.recorded()
	assert.Len(t, attempts, 1)
	assert.Empty(t, events)
}

func TestRetryOptionsAreValidated(t *testing.T) {
	for name, p := range map[string]restclient.RetryPolicy{
		"negative attempts":  {MaxAttempts: -1},
		"too many attempts":  {MaxAttempts: 11},
		"negative delay":     {BaseDelay: -time.Second},
		"max below base":     {BaseDelay: time.Second, MaxDelay: time.Millisecond},
		"budget above one":   {Budget: 1.5},
		"negative budget":    {Budget: -0.1},
		"negative min":       {MinRetries: -1},
		"negative window":    {BudgetWindow: -time.Second},
		"negative retry cap": {MaxRetryAfter: -time.Second},
	} {
		_, err := restclient.New("https://crm.example.com", restclient.WithRetry(p))
		assert.Error(t, err, name)
	}
	_, err := restclient.New("https://crm.example.com", restclient.WithRetry(restclient.RetryPolicy{}))
	assert.NoError(t, err, "zero fields mean the defaults")
	assert.Equal(t, 3, restclient.DefaultRetryPolicy().MaxAttempts)
}

// TestSettingProblemsAreByField: the defaults are valid as they are; a
// zero policy, taken as it is, has every field wrong, each by its name,
// which is what a caller without zero defaults (config's flags) reads.
func TestSettingProblemsAreByField(t *testing.T) {
	assert.Empty(t, restclient.DefaultRetryPolicy().Problems())
	assert.Empty(t, restclient.DefaultBreakerSettings().Problems())
	fields := func(ps []restclient.SettingProblem) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Field)
		}
		return out
	}
	assert.Equal(t, []string{"MaxAttempts", "BaseDelay", "MaxDelay", "MaxRetryAfter", "Budget", "BudgetWindow", "MinRetries"},
		fields(restclient.RetryPolicy{}.Problems()))
	assert.Equal(t, []string{"FailureRatio", "MinRequests", "Window", "OpenTimeout", "HalfOpenProbes", "PathEjection"},
		fields(restclient.BreakerSettings{}.Problems()))
	p := restclient.DefaultRetryPolicy()
	p.BaseDelay, p.MaxDelay = 2*time.Second, time.Second
	assert.Equal(t, []restclient.SettingProblem{{Field: "MaxDelay", Issue: "must not be below BaseDelay (2s), got 1s"}}, p.Problems())
	_, err := restclient.New("https://crm.example.com", restclient.WithRetry(p))
	assert.ErrorContains(t, err, "WithRetry: MaxDelay must not be below BaseDelay (2s), got 1s")
}
