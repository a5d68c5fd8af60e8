package fakeapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// tailed sends n requests one after another and returns how many answers
// the tail delayed. The extra delay is a nanosecond: the counts prove the
// draws, and the test needs no time.
func tailed(t *testing.T, share float64, seed int64, n int) int {
	t.Helper()
	s := fakeapi.New(fakeapi.WithSeed(seed), fakeapi.WithTail(share, time.Nanosecond))
	t.Cleanup(s.Close)
	for i := range n {
		rec := serve(s, context.Background(), meetingsPath(int64(i%50+1)))
		require.Equal(t, http.StatusOK, rec.Code)
	}
	return s.Tailed()
}

// TestTailIsASeededShare: the tail delays the share asked for, drawn from
// the seed, so that the same run meets the same tail.
func TestTailIsASeededShare(t *testing.T) {
	assert.Zero(t, tailed(t, 0, 1, 200))
	assert.Equal(t, 200, tailed(t, 1, 1, 200))
	a, b := tailed(t, 0.1, 7, 1000), tailed(t, 0.1, 7, 1000)
	assert.Equal(t, a, b, "the same seed, the same tail")
	assert.InDelta(t, 100, a, 40, "about 10% of 1000")

	s := fakeapi.New(fakeapi.WithTail(1, time.Nanosecond))
	t.Cleanup(s.Close)
	serve(s, context.Background(), meetingsPath(1))
	s.SetTail(0, 0)
	serve(s, context.Background(), meetingsPath(1))
	assert.Equal(t, 1, s.Tailed(), "SetTail(0, 0) turns it off")
	s.Reset()
	assert.Zero(t, s.Tailed())
	assert.Panics(t, func() { fakeapi.WithTail(1.5, time.Second) })
}
