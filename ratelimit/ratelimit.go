// Package ratelimit holds the calls a service makes to its upstream to a
// rate, in one process ([Local]) or across every replica sharing a Redis
// ([Shared]).
//
// A call over the limit waits for its turn, but only within its context's
// deadline: when the turn would come after the deadline, Wait returns at
// once with an [*Error] (errors.Is ErrRateLimited) saying how long the wait
// would have been, rather than wasting the time left.
//
// Redis is never a single point of failure: [Shared] asks Redis with a short
// timeout, and when Redis fails it falls back to a local limiter at this
// replica's share of the rate, logs the outage once, counts failures
// through [Hooks], and tries Redis again after a short backoff.
//
// [Fair] shares a limiter's turns among callers (credentials): each one's
// calls queue apart and the queues are served round-robin, so that one busy
// caller cannot starve the others.
//
// Of salesgraph it imports only redisconn (for Health, its Redis fallback
// state).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/salesgraph/salesgraph/redisconn"
)

// ErrRateLimited is what every [*Error] matches with errors.Is.
var ErrRateLimited = errors.New("ratelimit: rate limit reached")

// Error reports a call refused because its turn would come after its
// context's deadline.
type Error struct {
	// Wait is how long the call would have had to wait.
	Wait time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("ratelimit: rate limit reached: the next call is allowed in %v, after the deadline", e.Wait.Round(time.Millisecond))
}

// Unwrap makes errors.Is(err, ErrRateLimited) hold.
func (e *Error) Unwrap() error { return ErrRateLimited }

// A Limiter admits calls at a rate.
type Limiter interface {
	// Wait returns nil when the call may go, after waiting its turn if
	// need be; an *Error when the turn would come after ctx's deadline;
	// ctx's error when ctx ends first.
	Wait(ctx context.Context) error
}

// Hooks are called synchronously; nil hooks are skipped.
type Hooks struct {
	// Limited is called for each call refused with an *Error.
	Limited func(wait time.Duration)
	// RedisError is called for each failed Redis call of a Shared
	// limiter; calls skipped during the backoff are not counted.
	RedisError func(err error)
}

// DefaultBurst is the burst for a rate of perSecond when none is given: one
// second's worth, as redis_rate.PerSecond has it, so a page that starts a
// dozen calls at once is not spread over a second by a limit of 20/s.
func DefaultBurst(perSecond float64) int {
	return max(1, int(math.Ceil(perSecond)))
}

// Local is a token bucket in this process.
type Local struct {
	l     *rate.Limiter
	hooks Hooks
}

// NewLocal returns a limiter of perSecond calls per second (> 0) with
// bursts of burst calls (DefaultBurst if <= 0).
func NewLocal(perSecond float64, burst int, hooks Hooks) (*Local, error) {
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		return nil, fmt.Errorf("ratelimit: rate %v, want a positive number of calls per second", perSecond)
	}
	if burst <= 0 {
		burst = DefaultBurst(perSecond)
	}
	return &Local{l: rate.NewLimiter(rate.Limit(perSecond), burst), hooks: hooks}, nil
}

// Rate reports the limiter's calls per second and burst.
func (l *Local) Rate() (perSecond float64, burst int) { return float64(l.l.Limit()), l.l.Burst() }

// Wait implements [Limiter].
func (l *Local) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	r := l.l.ReserveN(now, 1)
	if !r.OK() { // only with a burst below 1, which NewLocal prevents
		return &Error{Wait: time.Duration(math.MaxInt64)}
	}
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && now.Add(d).After(deadline) {
		r.CancelAt(now) // give the turn back to callers that can wait
		return limited(l.hooks, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}

func limited(h Hooks, d time.Duration) error {
	if h.Limited != nil {
		h.Limited(d)
	}
	return &Error{Wait: d}
}

// Defaults for the zero [Options].
const (
	DefaultKey = "salesgraph:upstream"
)

// Options configures a [Shared] limiter; zero fields take the defaults.
type Options struct {
	// Burst, as for NewLocal.
	Burst int
	// Key names the limit in Redis (stored as "rate:" + Key); replicas
	// sharing a limit use the same key, and deployments sharing a Redis
	// different ones.
	Key string
	// Replicas is how many replicas share the limit. While Redis is down
	// each replica limits itself to Rate/Replicas (and Burst/Replicas, at
	// least 1), so the fleet together still keeps to the rate: Redis
	// usually fails for every replica at once, and the limit exists to
	// protect the upstream. Set it to the most replicas that run (an
	// autoscaler's maximum); fewer lets a fleet exceed the rate during an
	// outage, more throttles it below. Default 1: the full rate.
	Replicas int
	// Timeout bounds each Redis call (redisconn.DefaultTimeout if 0).
	Timeout time.Duration
	// Backoff is how long the local fallback is used after a failed Redis
	// call before Redis is asked again (redisconn.DefaultBackoff if 0;
	// negative means every call asks Redis).
	Backoff time.Duration
	// Logger gets one warning when Redis becomes unavailable and one line
	// when it is back (slog.Default() if nil).
	Logger *slog.Logger
	// Hooks, for metrics.
	Hooks Hooks
}

// Shared is a limit held in Redis for every replica, with GCRA
// (redis_rate): each call is one atomic script on Redis's clock, so the
// replicas' clocks do not matter.
type Shared struct {
	rl        *redis_rate.Limiter
	limit     redis_rate.Limit
	perSecond float64
	key       string
	timeout   time.Duration
	fallback  *Local
	hooks     Hooks
	health    *redisconn.Health
}

// NewShared returns a limiter of perSecond calls per second across every
// replica using rdb (which should come from redisconn) with the same key.
func NewShared(rdb redis.Cmdable, perSecond float64, o Options) (*Shared, error) {
	if rdb == nil {
		return nil, errors.New("ratelimit: NewShared without a Redis client")
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst(perSecond)
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	fallback, err := NewLocal(perSecond/float64(o.Replicas), max(1, o.Burst/o.Replicas), o.Hooks)
	if err != nil {
		return nil, err
	}
	s := &Shared{
		rl: redis_rate.NewLimiter(rdb),
		// redis_rate counts Rate calls per Period: one call per emission
		// interval expresses any rate, whole or not, exactly.
		limit:     redis_rate.Limit{Rate: 1, Period: time.Duration(float64(time.Second) / perSecond), Burst: o.Burst},
		perSecond: perSecond,
		key:       o.Key,
		timeout:   o.Timeout,
		fallback:  fallback,
		hooks:     o.Hooks,
	}
	if s.limit.Period <= 0 {
		return nil, fmt.Errorf("ratelimit: rate %v is too high", perSecond)
	}
	if s.key == "" {
		s.key = DefaultKey
	}
	if s.timeout <= 0 {
		s.timeout = redisconn.DefaultTimeout
	}
	s.health = redisconn.NewHealth(o.Backoff, o.Logger,
		"redis unavailable: upstream rate limit held per replica",
		"redis available again: upstream rate limit shared")
	return s, nil
}

// Rate reports the fleet's calls per second and burst.
func (s *Shared) Rate() (perSecond float64, burst int) { return s.perSecond, s.limit.Burst }

// Fallback returns the local limiter used while Redis is unavailable.
func (s *Shared) Fallback() *Local { return s.fallback }

// Wait implements [Limiter]. Over the limit, it sleeps until the time
// Redis says the next call is allowed and asks again, since another replica
// may have taken that turn. GCRA reserves nothing, so a turn claimed a
// round trip late is lost unless the burst banks it: with a burst of 1 the
// fleet gets a few percent below the rate (about 7% at 100/s in our test),
// with a burst of a few calls the full rate.
func (s *Shared) Wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.health.Skip() {
			return s.fallback.Wait(ctx)
		}
		res, err := s.allow(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err() // the caller's deadline, not Redis's fault
			}
			if s.hooks.RedisError != nil {
				s.hooks.RedisError(err)
			}
			s.health.Failed("allow", err)
			return s.fallback.Wait(ctx)
		}
		s.health.Succeeded()
		if res.Allowed > 0 {
			return nil
		}
		d := res.RetryAfter
		if deadline, ok := ctx.Deadline(); ok && time.Now().Add(d).After(deadline) {
			return limited(s.hooks, d)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

func (s *Shared) allow(ctx context.Context) (*redis_rate.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.rl.Allow(ctx, s.key, s.limit)
}
