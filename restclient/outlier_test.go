package restclient_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// ejectionRig is a breaker rig that records path ejections and runs on a
// clock the test moves.
type ejectionRig struct {
	*breakerRig
	mu        sync.Mutex
	ejections []restclient.PathEjection
	now       time.Time
}

func newEjectionRig(t *testing.T, s restclient.BreakerSettings, opts ...restclient.Option) *ejectionRig {
	t.Helper()
	e := &ejectionRig{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	opts = append(opts, restclient.WithEjectionObserver(func(ev restclient.PathEjection) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.ejections = append(e.ejections, ev)
	}))
	e.breakerRig = newBreakerRig(t, s, opts...)
	restclient.SetClock(e.client, func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.now
	})
	return e
}

func (e *ejectionRig) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *ejectionRig) events() []restclient.PathEjection {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]restclient.PathEjection(nil), e.ejections...)
}

func (e *ejectionRig) callAs(token string, user int64) error {
	ctx := restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {token}})
	_, err := e.client.UserMeetings(ctx, user)
	return err
}

// ejecting ejects a path after 3 failures in a row, for 10 s, then 20 s,
// up to 25 s; the upstream's breaker would open after 4 failures in a row.
var ejecting = restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 4, OpenTimeout: time.Hour,
	PathFailures: 3, PathEjection: 10 * time.Second, MaxPathEjection: 25 * time.Second}

// TestAPathFailingInALoopIsEjectedAndTheUpstreamStaysServed is issue 18's
// first item at the client: one user's list answering 500 to a caller who
// asks for it in a loop ejects that path for that caller, and nothing
// else.
func TestAPathFailingInALoopIsEjectedAndTheUpstreamStaysServed(t *testing.T) {
	r := newEjectionRig(t, ejecting)
	r.sick(500, 2)
	for range 100 {
		require.Error(t, r.call(2))
	}
	assert.Equal(t, ejecting.PathFailures, r.fake.CallsTo(userMeetingsPath(2)), "the upstream saw the failures that ejected the path, no more")
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState())
	assert.Empty(t, r.transitions())
	assert.Equal(t, 1, r.client.EjectedPaths())

	err := r.call(2)
	assert.ErrorIs(t, err, restclient.ErrPathEjected)
	assert.NotErrorIs(t, err, restclient.ErrCircuitOpen)
	var pe *restclient.PathEjectedError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, restclient.EndpointUserMeetings, pe.Endpoint)
	assert.Equal(t, userMeetingsPath(2), pe.Path)
	assert.Equal(t, ejecting.PathEjection, pe.RetryAfter, "the clock has not moved")
	c := restclient.Classify(err)
	assert.Equal(t, restclient.KindPathEjected, c.Kind)
	assert.Equal(t, "path_ejected", c.Result())
	assert.Equal(t, 500, c.HTTPStatus, "what the upstream said last")
	assert.Equal(t, 500, c.UpstreamStatus)
	assert.NotEmpty(t, c.Description)
	assert.False(t, c.Retryable)
	assert.NotContains(t, err.Error(), r.fake.URL[len("http://"):])

	// Every other user is served.
	for u := int64(3); u <= 30; u++ {
		require.NoError(t, r.call(u))
	}
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState())
	events := r.events()
	require.Len(t, events, 1)
	assert.Equal(t, restclient.PathEjection{Endpoint: restclient.EndpointUserMeetings, Path: userMeetingsPath(2),
		Failures: 3, Ejections: 1, Duration: 10 * time.Second, Err: events[0].Err}, events[0])
	assert.True(t, restclient.IsServerError(events[0].Err))
}

// TestAPathIsEjectedForItsCallerOnly: the same path is another tenant's
// list under another credential, and one caller's failures must not make
// another's calls fail.
func TestAPathIsEjectedForItsCallerOnly(t *testing.T) {
	const other = "Bearer another-tenant"
	r := newEjectionRig(t, ejecting)
	r.fake.Inject(fakeapi.Fault{Path: userMeetingsPath(2), Credential: fakeapi.DefaultToken, Kind: fakeapi.FaultStatus, Status: 500})
	for range 10 {
		require.Error(t, r.callAs(fakeapi.DefaultToken, 2))
	}
	assert.ErrorIs(t, r.callAs(fakeapi.DefaultToken, 2), restclient.ErrPathEjected)
	// The fake accepts only its token: the other caller's calls reach it
	// and are refused for their credential, as they would be without the
	// first caller's failures.
	for range 10 {
		err := r.callAs(other, 2)
		assert.True(t, restclient.IsForbidden(err), "%v", err)
	}
	assert.Equal(t, 10, r.fake.CallsBy(other))
}

func TestAnEjectionGrowsWhileThePathKeepsFailing(t *testing.T) {
	r := newEjectionRig(t, ejecting)
	heal := r.sick(503, 2) // a 503 is retried; the rig's client does not retry
	for range 3 {
		require.Error(t, r.call(2))
	}
	require.ErrorIs(t, r.call(2), restclient.ErrPathEjected)

	// Once the ejection is over, one call goes through; it fails, and the
	// path is ejected again at once, for longer each time, up to the cap.
	for _, want := range []time.Duration{20 * time.Second, 25 * time.Second, 25 * time.Second} {
		r.advance(r.events()[len(r.events())-1].Duration)
		calls := r.fake.Calls()
		err := r.call(2)
		require.NotErrorIs(t, err, restclient.ErrPathEjected, "the probe is sent")
		assert.Equal(t, calls+1, r.fake.Calls())
		var pe *restclient.PathEjectedError
		require.ErrorAs(t, r.call(2), &pe)
		assert.Equal(t, want, pe.RetryAfter)
	}
	got := r.events()
	require.Len(t, got, 4)
	for i, ev := range got {
		assert.Equal(t, i+1, ev.Ejections)
		assert.Equal(t, map[bool]int{true: 3, false: 1}[i == 0], ev.Failures)
	}

	// A success forgets it all: the next failures start from scratch.
	r.advance(25 * time.Second)
	heal()
	require.NoError(t, r.call(2))
	assert.Zero(t, r.client.EjectedPaths())
	r.sick(503, 2)
	for range 2 {
		require.Error(t, r.call(2))
	}
	assert.NotErrorIs(t, r.call(2), restclient.ErrPathEjected, "two failures after a success do not eject it")
	var pe *restclient.PathEjectedError
	require.ErrorAs(t, r.call(2), &pe)
	assert.Equal(t, 10*time.Second, pe.RetryAfter, "a first ejection again")
}

// TestFailuresAcrossManyPathsStillOpenTheBreaker: with the defaults, the
// upstream failing for 30 users' lists opens the breaker for everyone.
func TestFailuresAcrossManyPathsStillOpenTheBreaker(t *testing.T) {
	r := newEjectionRig(t, restclient.BreakerSettings{OpenTimeout: time.Hour})
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500})
	opened := 0
	for u := int64(1); u <= 30; u++ {
		if r.call(u) != nil && r.client.BreakerState() == restclient.BreakerOpen && opened == 0 {
			opened = int(u)
		}
	}
	assert.Equal(t, restclient.DefaultBreakerSettings().MinRequests, opened, "opened at the 20th path failing in a row")
	assert.ErrorIs(t, r.call(31), restclient.ErrCircuitOpen)
	assert.Empty(t, r.events(), "no path failed twice: none was ejected")
}

// TestAnOpeningBreakerVoidsEjections: once the upstream fails as a whole,
// the paths were not to blame, and their ejections would outlast the
// outage.
func TestAnOpeningBreakerVoidsEjections(t *testing.T) {
	r := newEjectionRig(t, restclient.BreakerSettings{FailureRatio: 0.5, MinRequests: 4, OpenTimeout: 20 * time.Millisecond,
		HalfOpenProbes: 1, PathFailures: 2, PathEjection: time.Hour})
	heal := r.sick(500, 2)
	require.Error(t, r.call(2))
	require.Error(t, r.call(2))
	require.ErrorIs(t, r.call(2), restclient.ErrPathEjected)
	heal()
	healAll := r.sick(500, 3, 4, 5, 6)
	for u := int64(3); u <= 6; u++ {
		require.Error(t, r.call(u))
	}
	require.Equal(t, restclient.BreakerOpen, r.client.BreakerState())
	assert.Zero(t, r.client.EjectedPaths())
	assert.ErrorIs(t, r.call(2), restclient.ErrCircuitOpen, "the breaker refuses it, not the ejection")
	healAll()
	require.Eventually(t, func() bool { return r.client.BreakerState() == restclient.BreakerHalfOpen }, 5*time.Second, time.Millisecond)
	require.NoError(t, r.call(2), "the path that was ejected is sent, and answers")
	assert.Equal(t, restclient.BreakerClosed, r.client.BreakerState())
}

func TestEjectionSettingsAreValidated(t *testing.T) {
	for name, s := range map[string]restclient.BreakerSettings{
		"negative ejection":         {PathEjection: -time.Second},
		"cap below the first":       {PathEjection: time.Minute, MaxPathEjection: time.Second},
		"negative cap":              {MaxPathEjection: -time.Second},
		"cap below the default one": {MaxPathEjection: time.Second},
	} {
		_, err := restclient.New("https://crm.example.com", restclient.WithCircuitBreaker(s))
		assert.Error(t, err, name)
	}
	_, err := restclient.New("https://crm.example.com", restclient.WithCircuitBreaker(restclient.BreakerSettings{PathFailures: -1}))
	assert.NoError(t, err, "negative failures: paths are never ejected")
}

// TestAnEjectedPathIsServedStale: an ejection refuses a call because the
// upstream keeps failing it, so an answer in its stale window stands in,
// as for the failures themselves.
func TestAnEjectedPathIsServedStale(t *testing.T) {
	up := fakeapi.NewServer()
	t.Cleanup(up.Close)
	now := time.Now()
	c := cachedClient(t, up, &now, restclient.WithCircuitBreaker(restclient.BreakerSettings{PathFailures: 1, PathEjection: time.Hour}))
	var stale []restclient.StaleAnswer
	ctx := restclient.WithCacheReport(withCred(fakeapi.DefaultToken), func(a restclient.StaleAnswer) { stale = append(stale, a) })
	want, err := c.UserMeetings(ctx, 1)
	require.NoError(t, err)
	now = now.Add(45 * time.Second) // past the TTL, within the stale window
	up.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500})
	for range 3 {
		got, err := c.UserMeetings(ctx, 1)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	assert.Equal(t, 2, up.Calls(), "the first answer, then the failure that ejected the path")
	require.Len(t, stale, 3)
	assert.True(t, restclient.IsServerError(stale[0].Failure))
	assert.ErrorIs(t, stale[2].Failure, restclient.ErrPathEjected)
}
