package restclient_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/ratelimit"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// cachedClient is a client of up through a cache whose clock the test
// moves with *now.
func cachedClient(t *testing.T, up *fakeapi.Server, now *time.Time, opts ...restclient.Option) *restclient.Client {
	t.Helper()
	cache, err := respcache.New(respcache.Options{TTL: 30 * time.Second, StaleIfError: time.Minute, Now: func() time.Time { return *now }})
	require.NoError(t, err)
	c, err := restclient.New(up.URL, append([]restclient.Option{
		restclient.WithResponseCache(restclient.ResponseCache{Cache: cache, Keyer: respcache.NewRandomKeyer()}),
		restclient.WithoutRetry(),
	}, opts...)...)
	require.NoError(t, err)
	return c
}

func withCred(tok string) context.Context {
	return restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {tok}})
}

// TestCacheServesFreshWithoutCalling: a second call within the TTL is
// answered from the cache with the same decoded meetings, and another
// credential is never served the first one's answer.
func TestCacheServesFreshWithoutCalling(t *testing.T) {
	const other = "Bearer other-tenant"
	up := fakeapi.NewServer(fakeapi.WithTenant(other, 99))
	defer up.Close()
	now := time.Now()
	c := cachedClient(t, up, &now)
	user := up.Dataset().Users[0].ID

	first, err := c.UserMeetings(withCred(fakeapi.DefaultToken), user)
	require.NoError(t, err)
	calls := up.Calls()
	second, err := c.UserMeetings(withCred(fakeapi.DefaultToken), user)
	require.NoError(t, err)
	assert.Equal(t, calls, up.Calls(), "a fresh answer costs no call")
	assert.Equal(t, first, second, "decoded from the cache as from the wire")
	assert.Equal(t, datasetMeetingIDs(up.Dataset().Users[0].Meetings), meetingIDs(second))

	theirs, err := c.UserMeetings(withCred(other), user)
	require.NoError(t, err)
	assert.Equal(t, calls+1, up.Calls(), "another credential is another key")
	otherUser, _ := up.DatasetFor(other).User(user)
	assert.Equal(t, datasetMeetingIDs(otherUser.Meetings), meetingIDs(theirs))
}

// TestCacheStaleIfError: past the TTL, a call that fails in a way the
// upstream is to blame for is answered with the stale entry, reported with
// its age and the failure; one that fails because of its caller, or past
// the stale window, is not; a 403 never is, and revokes what the
// credential cached. This is the one stale-serving policy (servesStale):
// respcache keeps the entry and its window, restclient decides when it
// stands in.
func TestCacheStaleIfError(t *testing.T) {
	const ttl, window = 30 * time.Second, time.Minute
	for _, tc := range []struct {
		name      string
		fault     *fakeapi.Fault
		cancelled bool          // the caller gives up before the call
		past      time.Duration // past the TTL
		stale     bool
		kind      restclient.Kind // of the failure, reported or returned
	}{
		{name: "503", fault: &fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503}, past: 42 * time.Second, stale: true, kind: restclient.KindServerError},
		{name: "500", fault: &fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500}, past: 42 * time.Second, stale: true, kind: restclient.KindServerError},
		{name: "429", fault: &fakeapi.Fault{Kind: fakeapi.FaultRateLimit}, past: 42 * time.Second, stale: true, kind: restclient.KindRateLimited},
		{name: "connection dropped", fault: &fakeapi.Fault{Kind: fakeapi.FaultDropConnection}, past: 42 * time.Second, stale: true, kind: restclient.KindUnreachable},
		{name: "past the stale window", fault: &fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503}, past: ttl + window, kind: restclient.KindServerError},
		{name: "a caller that gave up", cancelled: true, past: 42 * time.Second, kind: restclient.KindCanceled},
		{name: "a refused credential", fault: &fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 403}, past: 42 * time.Second, kind: restclient.KindForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := fakeapi.NewServer()
			defer up.Close()
			now := time.Now()
			var stale []restclient.StaleAnswer
			var counted int
			cache, err := respcache.New(respcache.Options{TTL: ttl, StaleIfError: window, Now: func() time.Time { return now }})
			require.NoError(t, err)
			c, err := restclient.New(up.URL,
				restclient.WithResponseCache(restclient.ResponseCache{Cache: cache, Keyer: respcache.NewRandomKeyer(), OnStale: func(string, time.Duration) { counted++ }}),
				restclient.WithoutRetry(), restclient.WithoutCircuitBreaker())
			require.NoError(t, err)
			user := up.Dataset().Users[0].ID
			ctx := restclient.WithCacheReport(withCred(fakeapi.DefaultToken), func(s restclient.StaleAnswer) { stale = append(stale, s) })

			want, err := c.UserMeetings(ctx, user)
			require.NoError(t, err)
			now = now.Add(tc.past)
			if tc.fault != nil {
				up.Inject(*tc.fault)
			}
			callCtx := ctx
			if tc.cancelled {
				var cancel context.CancelFunc
				callCtx, cancel = context.WithCancel(ctx)
				cancel()
			}
			got, err := c.UserMeetings(callCtx, user)
			if !tc.stale {
				assert.Equal(t, tc.kind, restclient.Classify(err).Kind, "the failure itself: %v", err)
				assert.Empty(t, stale)
				assert.Zero(t, counted)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, want, got)
			require.Len(t, stale, 1)
			assert.Equal(t, tc.past, stale[0].Age)
			assert.Equal(t, tc.kind, restclient.Classify(stale[0].Failure).Kind)
			assert.Equal(t, 1, counted)
		})
	}
}

// TestARefusedCredentialLosesItsStaleAnswers: after a 403, nothing the
// credential cached stands in for a failure, on any path.
func TestARefusedCredentialLosesItsStaleAnswers(t *testing.T) {
	up := fakeapi.NewServer()
	defer up.Close()
	now := time.Now()
	c := cachedClient(t, up, &now, restclient.WithoutCircuitBreaker())
	users := up.Dataset().Users
	ctx := withCred(fakeapi.DefaultToken)
	for _, u := range users[:2] {
		_, err := c.UserMeetings(ctx, u.ID)
		require.NoError(t, err)
	}
	now = now.Add(42 * time.Second)
	remove := up.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 403})
	_, err := c.UserMeetings(ctx, users[0].ID)
	assert.Equal(t, restclient.KindForbidden, restclient.Classify(err).Kind)
	remove()
	up.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503})
	_, err = c.UserMeetings(ctx, users[1].ID)
	assert.Equal(t, restclient.KindServerError, restclient.Classify(err).Kind, "another path of the refused credential: no stale answer")
}

// refuser refuses every call as over the limit.
type refuser struct{ calls int }

func (r *refuser) Wait(context.Context) error { r.calls++; return &ratelimit.Error{Wait: time.Second} }

// TestRateLimitRefusal: a refusal is KindLimited, sent nowhere, not
// retried, and not a breaker failure.
func TestRateLimitRefusal(t *testing.T) {
	up := fakeapi.NewServer()
	defer up.Close()
	r := &refuser{}
	c, err := restclient.New(up.URL, restclient.WithRateLimiter(r),
		restclient.WithCircuitBreaker(restclient.BreakerSettings{FailureRatio: 0.1, MinRequests: 1, Window: time.Minute, OpenTimeout: time.Minute, HalfOpenProbes: 1}))
	require.NoError(t, err)
	for range 3 {
		_, err = c.UserMeetings(withCred(fakeapi.DefaultToken), 1)
		var rl *restclient.RateLimitError
		require.True(t, errors.As(err, &rl), "%v", err)
		assert.True(t, errors.Is(err, ratelimit.ErrRateLimited))
		cl := restclient.Classify(err)
		assert.Equal(t, restclient.KindLimited, cl.Kind)
		assert.False(t, cl.Retryable)
		assert.Equal(t, time.Second, cl.RetryAfter)
	}
	assert.Equal(t, 3, r.calls, "one wait per call: refusals are not retried")
	assert.Zero(t, up.Calls())
	assert.Equal(t, restclient.BreakerClosed, c.BreakerState(), "our own limit says nothing of the upstream")
}
