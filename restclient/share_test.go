package restclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tenantToken = "Bearer fakeapi-tenant-b"

// shareRig is a client in front of a fake that can hold requests, with the
// client's share observer turned into a signal per joining caller and the
// fake's handler reporting, per request, whether its client went away.
type shareRig struct {
	fake      *fakeapi.Server
	client    *restclient.Client
	joined    chan string // an endpoint, each time a call joins one in flight
	abandoned chan bool   // per request served: whether its context was cancelled
	attempts  chan restclient.CallInfo
}

func newShareRig(t *testing.T, opts ...restclient.Option) *shareRig {
	t.Helper()
	r := &shareRig{
		fake:      fakeapi.New(fakeapi.WithTenant(tenantToken, 2)),
		joined:    make(chan string, 16),
		abandoned: make(chan bool, 16),
		attempts:  make(chan restclient.CallInfo, 16),
	}
	t.Cleanup(r.fake.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.fake.ServeHTTP(w, req)
		r.abandoned <- req.Context().Err() != nil
	}))
	t.Cleanup(srv.Close)
	base := []restclient.Option{
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}),
		restclient.WithoutRetry(),
		restclient.WithShareObserver(func(endpoint string) { r.joined <- endpoint }),
		restclient.WithObserver(func(ci restclient.CallInfo) { r.attempts <- ci }),
	}
	c, err := restclient.New(srv.URL, append(base, opts...)...)
	require.NoError(t, err)
	r.client = c
	return r
}

// inFlight waits until the fake has received n requests.
func (r *shareRig) inFlight(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return r.fake.Calls() == n }, 5*time.Second, time.Millisecond, "%d requests in flight", n)
}

type meetingsResult struct {
	list []restclient.Meeting
	err  error
}

func (r *shareRig) meetings(ctx context.Context, user int64) <-chan meetingsResult {
	out := make(chan meetingsResult, 1)
	go func() {
		list, err := r.client.UserMeetings(ctx, user)
		out <- meetingsResult{list, err}
	}()
	return out
}

// wantMeetingIDs are the ids of a user's meetings in the fake's dataset for
// a credential.
func wantMeetingIDs(t *testing.T, fake *fakeapi.Server, credential string, user int64) []string {
	t.Helper()
	u, ok := fake.DatasetFor(credential).User(user)
	require.True(t, ok)
	require.NotEmpty(t, u.Meetings)
	return datasetMeetingIDs(u.Meetings)
}

func withHeaders(kv ...string) context.Context {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return restclient.WithRequestHeaders(context.Background(), h)
}

// TestSharingIdenticalCallsInFlight holds the first caller's request at the
// fake and sends a second: what the second sends decides whether it joins
// the first (one request upstream) or sends its own (two).
func TestSharingIdenticalCallsInFlight(t *testing.T) {
	for _, tc := range []struct {
		name        string
		first, then context.Context
		wantCalls   int
	}{
		{"same static credential", context.Background(), context.Background(), 1},
		{"same forwarded credential", withHeaders("Authorization", fakeapi.DefaultToken), withHeaders("authorization", fakeapi.DefaultToken), 1},
		{"per-request headers differ", withHeaders("X-Request-Id", "a", "Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
			withHeaders("X-Request-Id", "b", "Tracestate", "x=1", "Baggage", "k=v"), 1},
		{"different credentials", context.Background(), withHeaders("Authorization", tenantToken), 2},
		{"a forwarded header differs", withHeaders("Authorization", fakeapi.DefaultToken, "X-Tenant", "a"), withHeaders("Authorization", fakeapi.DefaultToken, "X-Tenant", "b"), 2},
		{"a forwarded header's values differ", withHeaders("Authorization", fakeapi.DefaultToken, "X-Tenant", "a", "X-Tenant", "b"), withHeaders("Authorization", fakeapi.DefaultToken, "X-Tenant", "a"), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newShareRig(t)
			release := r.fake.Hold()
			defer release()
			first := r.meetings(tc.first, 7)
			r.inFlight(t, 1)
			then := r.meetings(tc.then, 7)
			if tc.wantCalls == 1 {
				assert.Equal(t, restclient.EndpointUserMeetings, <-r.joined, "the second call joined the first")
			} else {
				r.inFlight(t, 2) // sent while the first is still held
			}
			release()

			credential := func(ctx context.Context) string {
				if h, ok := restclient.RequestHeadersFrom(ctx); ok && h.Get("Authorization") != "" {
					return h.Get("Authorization")
				}
				return fakeapi.DefaultToken
			}
			for _, c := range []struct {
				ctx context.Context
				res <-chan meetingsResult
			}{{tc.first, first}, {tc.then, then}} {
				got := <-c.res
				require.NoError(t, got.err)
				assert.Equal(t, wantMeetingIDs(t, r.fake, credential(c.ctx), 7), meetingIDs(got.list))
			}
			assert.Equal(t, tc.wantCalls, r.fake.Calls())
			assert.Empty(t, r.joined, "no other call joined")
		})
	}
}

// TestSharingOtherUsersAndPagesAreNotShared: the path and the query are
// part of the key.
func TestSharingOtherUsersAndPagesAreNotShared(t *testing.T) {
	r := newShareRig(t)
	release := r.fake.Hold()
	defer release()
	var wg sync.WaitGroup
	for _, call := range []func() error{
		func() error { _, err := r.client.UserMeetings(context.Background(), 7); return err },
		func() error { _, err := r.client.UserMeetings(context.Background(), 8); return err },
		func() error { _, err := r.client.UserThreads(context.Background(), 7, 1); return err },
		func() error { _, err := r.client.UserThreads(context.Background(), 7, 2); return err },
	} {
		wg.Go(func() { assert.NoError(t, call()) })
	}
	r.inFlight(t, 4)
	release()
	wg.Wait()
	assert.Empty(t, r.joined)
}

// TestSharingSurvivesTheFirstCallerLeaving: the first caller cancels while
// its request is held and another waits for it; the first gets its own
// cancellation at once, the request goes on and answers the other.
func TestSharingSurvivesTheFirstCallerLeaving(t *testing.T) {
	r := newShareRig(t)
	release := r.fake.Hold()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	first := r.meetings(ctx, 7)
	r.inFlight(t, 1)
	then := r.meetings(context.Background(), 7)
	<-r.joined

	cancel()
	left := <-first
	assert.True(t, errors.Is(left.err, context.Canceled), "the first caller's own cancellation: %v", left.err)
	var te *restclient.TransportError
	require.ErrorAs(t, left.err, &te)
	assert.Equal(t, "/api/v1/users/7/meetings", te.Path)
	assert.Equal(t, restclient.KindCanceled, restclient.Classify(left.err).Kind)

	release()
	got := <-then
	require.NoError(t, got.err, "the call went on for the caller still waiting")
	assert.Equal(t, wantMeetingIDs(t, r.fake, fakeapi.DefaultToken, 7), meetingIDs(got.list))
	assert.False(t, <-r.abandoned, "the upstream request was not cancelled")
	ci := <-r.attempts
	assert.Equal(t, http.StatusOK, ci.HTTPStatus)
	assert.NoError(t, ci.Err)
	assert.Equal(t, 1, r.fake.Calls())
}

// TestSharingDeadlineIsEachCallersOwn: a caller whose deadline passes gets
// its own timeout; the call goes on for one without a deadline.
func TestSharingDeadlineIsEachCallersOwn(t *testing.T) {
	r := newShareRig(t)
	release := r.fake.Hold()
	defer release()
	first := r.meetings(context.Background(), 7)
	r.inFlight(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	then := r.meetings(ctx, 7)
	<-r.joined

	left := <-then // returns at its deadline while the request is still held
	assert.ErrorIs(t, left.err, restclient.ErrTimeout)
	assert.Equal(t, restclient.KindTimeout, restclient.Classify(left.err).Kind)

	release()
	got := <-first
	require.NoError(t, got.err)
	assert.Equal(t, wantMeetingIDs(t, r.fake, fakeapi.DefaultToken, 7), meetingIDs(got.list))
}

// TestSharingCancelledWhenEveryCallerLeft: once the last caller leaves, the
// upstream request is cancelled, and the next identical call sends a new one
// rather than joining the call on its way out.
func TestSharingCancelledWhenEveryCallerLeft(t *testing.T) {
	r := newShareRig(t)
	release := r.fake.Hold()
	defer release()
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	first := r.meetings(ctx1, 7)
	r.inFlight(t, 1)
	then := r.meetings(ctx2, 7)
	<-r.joined

	cancel1()
	require.ErrorIs(t, (<-first).err, context.Canceled)
	cancel2()
	require.ErrorIs(t, (<-then).err, context.Canceled)
	assert.True(t, <-r.abandoned, "the upstream request's context was cancelled")
	ci := <-r.attempts
	assert.Equal(t, restclient.KindCanceled, ci.Class.Kind)

	release()
	got := <-r.meetings(context.Background(), 7)
	require.NoError(t, got.err)
	assert.Equal(t, wantMeetingIDs(t, r.fake, fakeapi.DefaultToken, 7), meetingIDs(got.list))
	assert.Equal(t, 2, r.fake.Calls(), "a new request, not the cancelled one")
	assert.Empty(t, r.joined)
}

// TestWithoutSharing: every call sends its own request.
func TestWithoutSharing(t *testing.T) {
	r := newShareRig(t, restclient.WithoutSharing())
	release := r.fake.Hold()
	defer release()
	first := r.meetings(context.Background(), 7)
	r.inFlight(t, 1)
	then := r.meetings(context.Background(), 7)
	r.inFlight(t, 2)
	release()
	for _, res := range []<-chan meetingsResult{first, then} {
		got := <-res
		require.NoError(t, got.err)
		assert.Equal(t, wantMeetingIDs(t, r.fake, fakeapi.DefaultToken, 7), meetingIDs(got.list))
	}
	assert.Empty(t, r.joined)
}

// TestSharingAnErrorReachesEveryCaller: a failed shared call fails every
// caller with its error, and is not remembered.
func TestSharingAnErrorReachesEveryCaller(t *testing.T) {
	r := newShareRig(t)
	r.fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusBadGateway, Times: 1})
	release := r.fake.Hold()
	defer release()
	first := r.meetings(context.Background(), 7)
	r.inFlight(t, 1)
	then := r.meetings(context.Background(), 7)
	<-r.joined
	release()
	for _, res := range []<-chan meetingsResult{first, then} {
		err := (<-res).err
		var ae *restclient.APIError
		require.True(t, errors.As(err, &ae), "%v", err)
		assert.Equal(t, http.StatusBadGateway, ae.HTTPStatus)
	}
	got := <-r.meetings(context.Background(), 7)
	require.NoError(t, got.err, "the next call sends a request of its own")
	assert.Equal(t, 2, r.fake.Calls())
}
