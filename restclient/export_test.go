package restclient

import (
	"context"
	"time"
)

// Hooks for the external tests (package restclient_test) to replace the
// clock and the waits between attempts, so that retry and budget tests need
// neither real time nor sleeps.

// SetClock replaces the clock that dates Retry-After values and the retry
// budget's window.
func SetClock(c *Client, now func() time.Time) { c.now = now }

// SetRetrySleep replaces the wait between attempts; f is given the wait
// the policy chose.
func SetRetrySleep(c *Client, f func(context.Context, time.Duration) error) {
	if c.retry != nil {
		c.retry.sleep = f
	}
}

// SetRetryJitter replaces the jitter source, uniform in [0, n).
func SetRetryJitter(c *Client, f func(n int64) int64) {
	if c.retry != nil {
		c.retry.jitter = f
	}
}

// SetHedgeTimer replaces the timers after which hedges are due: after is
// given the delay and the hedge to send, and returns what stops it.
func SetHedgeTimer(c *Client, after func(d time.Duration, hedge func()) (stop func() bool)) {
	if c.hedger != nil {
		c.hedger.after = func(d time.Duration, f func()) hedgeTimer { return stopFunc(after(d, f)) }
	}
}

type stopFunc func() bool

func (f stopFunc) Stop() bool { return f() }
