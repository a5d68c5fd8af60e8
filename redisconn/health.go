package redisconn

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Health is the fallback state of one user of Redis (the persisted-query
// store, the response cache, the rate limit): after a failed call it
// leaves Redis alone for a backoff, so that a Redis that is down or frozen
// costs one timeout per backoff window rather than one per call, and it
// logs each change between up and down once. Use NewHealth.
type Health struct {
	backoff        time.Duration // after a failure; 0 or less: none
	log            *slog.Logger
	downMsg, upMsg string
	downUntil      atomic.Int64 // unix nanoseconds; 0 while up
	down           atomic.Bool
}

// NewHealth returns the state of a Redis user that, after a failed call,
// waits backoff before asking Redis again (DefaultBackoff when 0, none
// when negative), and logs downMsg when Redis fails and upMsg when it
// answers again, to log (slog.Default() when nil).
func NewHealth(backoff time.Duration, log *slog.Logger, downMsg, upMsg string) *Health {
	if backoff == 0 {
		backoff = DefaultBackoff
	}
	if log == nil {
		log = slog.Default()
	}
	return &Health{backoff: backoff, log: log, downMsg: downMsg, upMsg: upMsg}
}

// Skip reports whether Redis is to be left alone now.
func (h *Health) Skip() bool {
	u := h.downUntil.Load()
	return u != 0 && time.Now().UnixNano() < u
}

// Failed records a failed call of operation op.
func (h *Health) Failed(op string, err error) {
	if h.backoff > 0 {
		h.downUntil.Store(time.Now().Add(h.backoff).UnixNano())
	}
	if h.down.CompareAndSwap(false, true) {
		h.log.Warn(h.downMsg, "op", op, "error", err, "retryIn", h.backoff.String())
	}
}

// Succeeded records a call Redis answered.
func (h *Health) Succeeded() {
	if h.down.CompareAndSwap(true, false) {
		h.downUntil.Store(0)
		h.log.Info(h.upMsg)
	}
}
