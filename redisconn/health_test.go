package redisconn_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/redisconn"
)

// TestHealthBacksOffByDefault: the backoff after a failed call is one
// fact, DefaultBackoff, for every user of Redis that sets none; a negative
// backoff means none.
func TestHealthBacksOffByDefault(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		backoff time.Duration
		skip    bool
	}{
		{0, true},         // DefaultBackoff: a second
		{time.Hour, true}, // its own
		{-1, false},       // none
	} {
		h := redisconn.NewHealth(tc.backoff, log, "down", "up")
		if h.Skip() {
			t.Fatalf("backoff %v: skipping before any failure", tc.backoff)
		}
		h.Failed("get", errors.New("boom"))
		if h.Skip() != tc.skip {
			t.Errorf("backoff %v: skipping %v after a failure, want %v", tc.backoff, h.Skip(), tc.skip)
		}
		h.Succeeded()
		if h.Skip() {
			t.Errorf("backoff %v: skipping after a success", tc.backoff)
		}
	}
}
