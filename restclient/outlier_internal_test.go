package restclient

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestPerPathStateIsBounded: a caller who cycles through ids can make the
// client remember at most maxTrackedPaths failing paths, in the ejector
// and in the breaker's count of paths, and healthy paths take no room.
func TestPerPathStateIsBounded(t *testing.T) {
	s := DefaultBreakerSettings()
	s.PathFailures, s.MinRequests = 1, 1<<30 // every failure ejects; the breaker never opens
	b := newBreaker(s, nil)
	now := time.Now()
	e := newEjector(s, func() time.Time { return now }, b.epoch, nil)
	ctx := context.Background()
	failed := Class{Kind: KindServerError, Breaker: BreakerFailure}
	for i := range 3 * maxTrackedPaths {
		path := "/api/v1/users/" + strconv.Itoa(i) + "/meetings"
		done, probe, err := b.allow(EndpointUserMeetings, path)
		if err != nil {
			t.Fatal(err)
		}
		done(ctx, failed)
		e.record(ctx, 7, EndpointUserMeetings, path, failed, &APIError{HTTPStatus: 500}, !probe)
	}
	assert.Equal(t, maxTrackedPaths, e.paths.Len())
	assert.Equal(t, maxTrackedPaths, e.ejected())
	assert.Equal(t, maxTrackedPaths, b.runs.Len())
	assert.Equal(t, BreakerClosed, b.state())

	// The most recent are kept: the oldest went first.
	last := "/api/v1/users/" + strconv.Itoa(3*maxTrackedPaths-1) + "/meetings"
	assert.Error(t, e.check(7, EndpointUserMeetings, last))
	assert.NoError(t, e.check(7, EndpointUserMeetings, "/api/v1/users/0/meetings"))

	// Successes forget: healthy paths take no room.
	for i := range 3 * maxTrackedPaths {
		path := "/api/v1/users/" + strconv.Itoa(i) + "/meetings"
		done, _, _ := b.allow(EndpointUserMeetings, path)
		done(ctx, Class{Kind: KindOK, Breaker: BreakerSuccess})
		e.record(ctx, 7, EndpointUserMeetings, path, Class{Kind: KindOK, Breaker: BreakerSuccess}, nil, true)
	}
	assert.Zero(t, e.paths.Len())
	assert.Zero(t, b.runs.Len())
}
