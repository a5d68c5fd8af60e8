package restclient_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

const (
	testBudget = 1 << 20 // the budget and the per-body cap of budgetRig
	bigBody    = 700_000 // two of them do not fit in testBudget
)

// budgetRig is a client with a 1 MiB body budget and cap, no retries and no
// breaker, in front of a fake whose user 1 sends a 700 kB body that stops
// after its first chunk until the test lets it go on.
type budgetRig struct {
	fake   *fakeapi.Server
	client *restclient.Client
	stall  chan struct{}
}

func newBudgetRig(t *testing.T) *budgetRig {
	t.Helper()
	r := &budgetRig{fake: fakeapi.NewServer(), stall: make(chan struct{})}
	t.Cleanup(r.fake.Close)
	t.Cleanup(r.resume)
	c, err := restclient.New(r.fake.URL,
		restclient.WithBodyBudget(testBudget), restclient.WithMaxResponseBytes(testBudget),
		restclient.WithoutRetry(), restclient.WithoutCircuitBreaker(),
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))
	require.NoError(t, err)
	r.client = c
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/1/meetings", Kind: fakeapi.FaultLargeBody, Size: bigBody, MidBody: r.stall})
	return r
}

func (r *budgetRig) resume() {
	select {
	case <-r.stall:
	default:
		close(r.stall)
	}
}

// holdBig starts the call for user 1 and returns once the client is reading
// its body, which holds bigBody bytes of the budget until resume.
func (r *budgetRig) holdBig(t *testing.T) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := r.client.UserMeetings(context.Background(), 1)
		done <- err
	}()
	require.Eventually(t, func() bool { return r.client.BodyMemory().InUse == bigBody }, 10*time.Second, time.Millisecond,
		"the declared length is reserved before the body is read")
	return done
}

func (r *budgetRig) checkNeverExceeded(t *testing.T) {
	t.Helper()
	m := r.client.BodyMemory()
	assert.Equal(t, int64(testBudget), m.Limit)
	assert.LessOrEqual(t, m.Peak, m.Limit, "the budget was never exceeded")
	assert.Zero(t, m.InUse, "every reservation was given back")
	assert.Zero(t, m.Waiting)
}

func TestBodyBudgetMakesADeclaredBodyWaitForRoom(t *testing.T) {
	r := newBudgetRig(t)
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultLargeBody, Size: bigBody})
	first := r.holdBig(t)

	want := len(user(t, r.fake.Dataset(), 2).Meetings)
	second := make(chan error, 1)
	go func() {
		ms, err := r.client.UserMeetings(context.Background(), 2)
		if err == nil && len(ms) != want {
			err = errors.New("wrong meetings")
		}
		second <- err
	}()
	require.Eventually(t, func() bool { return r.client.BodyMemory().Waiting == 1 }, 10*time.Second, time.Millisecond,
		"the second body waits: both do not fit")
	assert.Equal(t, int64(bigBody), r.client.BodyMemory().InUse, "nothing of the second body was reserved")

	r.resume()
	require.NoError(t, <-first)
	require.NoError(t, <-second, "the second body is read once the first is done")
	assert.Equal(t, int64(bigBody), r.client.BodyMemory().Peak, "one body at a time")
	r.checkNeverExceeded(t)
}

func TestBodyBudgetFailsFastForABodyOfUnknownLength(t *testing.T) {
	r := newBudgetRig(t)
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultLargeBody, Size: 600_000, Chunked: true})
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/3/meetings", Kind: fakeapi.FaultLargeBody, Size: 20_000, Chunked: true})
	first := r.holdBig(t)

	_, err := r.client.UserMeetings(context.Background(), 2)
	assert.ErrorIs(t, err, restclient.ErrBodyBudget)
	var be *restclient.BodyBudgetError
	require.ErrorAs(t, err, &be)
	assert.False(t, be.Waited, "a growing body does not wait while holding memory")
	assert.Equal(t, restclient.EndpointUserMeetings, be.Endpoint)
	assert.Equal(t, "/api/v1/users/2/meetings", be.Path)
	assert.Equal(t, int64(testBudget), be.Budget)
	assert.NotErrorAs(t, err, new(*restclient.TransportError))
	assert.Equal(t, int64(bigBody), r.client.BodyMemory().InUse, "the refused body gave its reservation back")

	// A small body of unknown length still fits beside the big one.
	ms, err := r.client.UserMeetings(context.Background(), 3)
	require.NoError(t, err)
	assert.Len(t, ms, len(user(t, r.fake.Dataset(), 3).Meetings))

	r.resume()
	require.NoError(t, <-first)
	assert.Equal(t, 1, r.fake.CallsTo("/api/v1/users/2/meetings"), "sent once")
	r.checkNeverExceeded(t)
}

func TestBodyBudgetWaitEndsWithTheCaller(t *testing.T) {
	r := newBudgetRig(t)
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultLargeBody, Size: bigBody})
	first := r.holdBig(t)

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := r.client.UserMeetings(ctx, 2)
		second <- err
	}()
	require.Eventually(t, func() bool { return r.client.BodyMemory().Waiting == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	err := <-second
	var te *restclient.TransportError
	require.ErrorAs(t, err, &te, "the caller's own cancellation, as for any call")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, r.client.BodyMemory().Waiting, "the waiter left the queue")

	r.resume()
	require.NoError(t, <-first)
	r.checkNeverExceeded(t)
}

func TestBodyBudgetErrorIsNeitherRetriedNorABreakerFailure(t *testing.T) {
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	c, err := restclient.New(fake.URL,
		restclient.WithBodyBudget(testBudget), restclient.WithMaxResponseBytes(testBudget),
		restclient.WithRetry(restclient.RetryPolicy{MaxAttempts: 3}),
		restclient.WithCircuitBreaker(restclient.BreakerSettings{MinRequests: 1, FailureRatio: 0.01, OpenTimeout: time.Hour}),
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))
	require.NoError(t, err)
	restclient.SetRetrySleep(c, func(context.Context, time.Duration) error { return nil })
	fake.Inject(fakeapi.Fault{Path: "/api/v1/users/1/meetings", Kind: fakeapi.FaultLargeBody, Size: bigBody, MidBody: stall})
	fake.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultLargeBody, Size: 600_000, Chunked: true})
	go func() { _, _ = c.UserMeetings(context.Background(), 1) }()
	require.Eventually(t, func() bool { return c.BodyMemory().InUse == bigBody }, 10*time.Second, time.Millisecond)

	for range 3 {
		_, err := c.UserMeetings(context.Background(), 2)
		require.ErrorIs(t, err, restclient.ErrBodyBudget)
	}
	assert.Equal(t, 3, fake.CallsTo("/api/v1/users/2/meetings"), "one attempt per call: not retried")
	assert.Equal(t, restclient.BreakerClosed, c.BreakerState(), "the upstream did nothing wrong")
}

func TestDeclaredLengthOverTheCapIsRefusedUnread(t *testing.T) {
	r := newBudgetRig(t)
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultLargeBody, Size: 4 * testBudget})
	_, err := r.client.UserMeetings(context.Background(), 2)
	var de *restclient.DecodeError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, restclient.ErrResponseTooLarge)
	assert.Empty(t, de.Excerpt, "not a byte was read")
	assert.Zero(t, r.client.BodyMemory().Peak, "nothing was reserved")
	r.checkNeverExceeded(t)
}

func TestUndeclaredBodyStopsAtTheCap(t *testing.T) {
	r := newBudgetRig(t)
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultLargeBody, Size: 64 * testBudget, Chunked: true})
	_, err := r.client.UserMeetings(context.Background(), 2)
	assert.ErrorIs(t, err, restclient.ErrResponseTooLarge)
	assert.Equal(t, int64(testBudget), r.client.BodyMemory().Peak, "read up to the cap, and no further")
	r.checkNeverExceeded(t)
}

func TestBodyBudgetOptions(t *testing.T) {
	c, err := restclient.New("https://crm.example.com")
	require.NoError(t, err)
	assert.Equal(t, int64(256<<20), c.BodyMemory().Limit, "default")

	c, err = restclient.New("https://crm.example.com", restclient.WithMaxResponseBytes(512<<20))
	require.NoError(t, err)
	assert.Equal(t, int64(512<<20), c.BodyMemory().Limit, "the default grows to hold one body at the cap")

	for name, opts := range map[string][]restclient.Option{
		"zero":          {restclient.WithBodyBudget(0)},
		"negative":      {restclient.WithBodyBudget(-1)},
		"below the cap": {restclient.WithBodyBudget(1 << 20), restclient.WithMaxResponseBytes(2 << 20)},
	} {
		_, err := restclient.New("https://crm.example.com", opts...)
		assert.Error(t, err, name)
	}
}

// TestBodyHoldKeepsTheRoomOfDecodedAnswers: under a WithBodyHold, an
// answer's room stays reserved after the call returns, for its records,
// which keep its text; release gives it back, and after release a call's
// room is given back as it returns.
func TestBodyHoldKeepsTheRoomOfDecodedAnswers(t *testing.T) {
	r := newBudgetRig(t)
	const size = 300_000
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultLargeBody, Size: size, Field: "address"})
	ctx, release := restclient.WithBodyHold(context.Background())

	ms, err := r.client.UserMeetings(ctx, 2)
	require.NoError(t, err)
	require.Len(t, ms, len(user(t, r.fake.Dataset(), 2).Meetings))
	assert.Greater(t, len(ms[0].Address), size/len(ms)/2, "the records hold the answer's text")
	assert.Equal(t, int64(size), r.client.BodyMemory().InUse, "kept for the records")

	_, err = r.client.UserMeetings(context.Background(), 3)
	require.NoError(t, err)
	assert.Equal(t, int64(size), r.client.BodyMemory().InUse, "a call without a hold keeps nothing")

	release()
	assert.Zero(t, r.client.BodyMemory().InUse)
	release() // more than once does no harm
	_, err = r.client.UserMeetings(ctx, 2)
	require.NoError(t, err)
	r.checkNeverExceeded(t)
}

// TestBodyHoldNeverWaitsWhileHolding: a call under a hold that keeps room
// fails at once when its answer does not fit, and one that was waiting
// gives up as its hold starts keeping room, where a call holding nothing
// waits: holders never wait for one another.
func TestBodyHoldNeverWaitsWhileHolding(t *testing.T) {
	r := newBudgetRig(t)
	const more, most = 400_000, 500_000 // neither fits beside bigBody
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/3/meetings", Kind: fakeapi.FaultLargeBody, Size: more})
	r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/4/meetings", Kind: fakeapi.FaultLargeBody, Size: most})
	first := r.holdBig(t)
	ctx, release := restclient.WithBodyHold(context.Background())
	defer release()
	waiting := make(chan error, 1)
	go func() {
		_, err := r.client.UserMeetings(ctx, 4)
		waiting <- err
	}()
	require.Eventually(t, func() bool { return r.client.BodyMemory().Waiting == 1 }, 10*time.Second, time.Millisecond,
		"waits: its hold keeps nothing yet")
	// User 2's small answer takes room free at once (it waits behind no
	// one: budget.go), and its hold now keeps it.
	_, err := r.client.UserMeetings(ctx, 2)
	require.NoError(t, err)
	kept := r.client.BodyMemory().InUse - bigBody
	require.Positive(t, kept)
	var be *restclient.BodyBudgetError
	require.ErrorAs(t, <-waiting, &be, "gave up once its hold kept room")
	assert.False(t, be.Waited)
	assert.Zero(t, r.client.BodyMemory().Waiting)

	_, err = r.client.UserMeetings(ctx, 3)
	require.ErrorAs(t, err, &be)
	assert.False(t, be.Waited, "refused at once")
	assert.Equal(t, int64(more), be.Need)
	assert.Contains(t, err.Error(), "no room for 400000 bytes")
	assert.Equal(t, bigBody+kept, r.client.BodyMemory().InUse, "the refused answers reserved nothing")

	// Without a hold, the same call waits for room.
	other := make(chan error, 1)
	go func() {
		_, err := r.client.UserMeetings(context.Background(), 3)
		other <- err
	}()
	require.Eventually(t, func() bool { return r.client.BodyMemory().Waiting == 1 }, 10*time.Second, time.Millisecond)
	r.resume()
	require.NoError(t, <-first)
	require.NoError(t, <-other, "served once the big body is done")
	release()
	r.checkNeverExceeded(t)
}

func user(t *testing.T, d *fakeapi.Dataset, id int64) *fakeapi.User {
	t.Helper()
	u, ok := d.User(id)
	require.True(t, ok, "dataset has no user %d", id)
	return u
}
