package restclient

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/sony/gobreaker/v2"
)

// BreakerSettings configure the client's circuit breaker, one per client
// and so per upstream. Closed, it lets every attempt through and counts
// outcomes over a rolling Window; once at least MinRequests attempts were
// counted and FailureRatio of them failed, it opens. It also opens when the
// last MinRequests attempts all failed, however many successes the window
// still holds: under heavy traffic a window full of successes from before an
// outage would otherwise keep the ratio under its threshold for most of a
// Window, and whether a burst of failures opened the breaker would depend on
// how fast the successes had come. Open, it refuses every
// attempt at once with *CircuitOpenError, sparing the upstream and the
// caller's time. After OpenTimeout it half-opens: HalfOpenProbes attempts go
// through, and it closes when they all succeed or opens again at the first
// failure.
//
// Failures are answers that say the upstream is unwell: 5xx, timeouts, no
// answer, an answer that cannot be read. Answers that say the request was
// wrong (400, 403, 404) count as successes; 429 and attempts the caller
// cancelled, or whose deadline passed, do not count at all.
//
// The breaker measures the upstream, not one of its paths: a path's
// failures count once until that path (one user's list) succeeds again, so
// that it takes failures spread over many paths to open it, at least
// MinRequests×FailureRatio of them. A path that keeps failing is ejected
// instead, for the caller who asks for it (outlier.go): after PathFailures
// failures in a row its calls fail at once with *PathEjectedError for
// PathEjection, which grows by as much with each ejection that follows
// without a success in between, up to MaxPathEjection.
//
// The zero value of every field means its default.
type BreakerSettings struct {
	FailureRatio   float64       // default 0.5
	MinRequests    int           // default 20
	Window         time.Duration // default 10s
	OpenTimeout    time.Duration // default 5s
	HalfOpenProbes int           // default 3

	PathFailures    int           // default 5; negative: paths are never ejected
	PathEjection    time.Duration // default 5s
	MaxPathEjection time.Duration // default 5m
}

// DefaultBreakerSettings returns the settings a client has unless told
// otherwise.
func DefaultBreakerSettings() BreakerSettings {
	return BreakerSettings{
		FailureRatio: 0.5, MinRequests: 20, Window: 10 * time.Second, OpenTimeout: 5 * time.Second, HalfOpenProbes: 3,
		PathFailures: 5, PathEjection: 5 * time.Second, MaxPathEjection: 5 * time.Minute,
	}
}

func (s BreakerSettings) withDefaults() BreakerSettings {
	d := DefaultBreakerSettings()
	if s.FailureRatio == 0 {
		s.FailureRatio = d.FailureRatio
	}
	if s.MinRequests == 0 {
		s.MinRequests = d.MinRequests
	}
	if s.Window == 0 {
		s.Window = d.Window
	}
	if s.OpenTimeout == 0 {
		s.OpenTimeout = d.OpenTimeout
	}
	if s.HalfOpenProbes == 0 {
		s.HalfOpenProbes = d.HalfOpenProbes
	}
	if s.PathFailures == 0 {
		s.PathFailures = d.PathFailures
	}
	if s.PathEjection == 0 {
		s.PathEjection = d.PathEjection
	}
	if s.MaxPathEjection == 0 {
		s.MaxPathEjection = max(d.MaxPathEjection, s.PathEjection)
	}
	return s
}

// MaxHalfOpenProbes bounds BreakerSettings.HalfOpenProbes.
const MaxHalfOpenProbes = 1000

// Problems reports what is wrong with s as it is, without the defaults (a
// zero is not a valid value; PathFailures may be anything), by field:
// WithCircuitBreaker's rules, which it applies after filling in the zero
// fields, for a caller whose settings have no zero default and that names
// each field in its own words (salesgraph's config, by its flags).
func (s BreakerSettings) Problems() []SettingProblem {
	var out settingProblems
	out.check(s.FailureRatio > 0 && s.FailureRatio <= 1, "FailureRatio", "must be a share above 0 and at most 1, got %v", s.FailureRatio)
	out.check(s.MinRequests > 0, "MinRequests", "must be positive, got %d", s.MinRequests)
	out.positive("Window", s.Window)
	out.positive("OpenTimeout", s.OpenTimeout)
	out.check(s.HalfOpenProbes > 0 && s.HalfOpenProbes <= MaxHalfOpenProbes, "HalfOpenProbes", "must be between 1 and %d, got %d", MaxHalfOpenProbes, s.HalfOpenProbes)
	out.positive("PathEjection", s.PathEjection)
	out.check(s.MaxPathEjection >= s.PathEjection, "MaxPathEjection", "must not be below PathEjection (%v), got %v", s.PathEjection, s.MaxPathEjection)
	return out
}

// WithCircuitBreaker sets the circuit breaker's settings; zero fields keep
// their defaults (see DefaultBreakerSettings). The breaker is on by
// default.
func WithCircuitBreaker(s BreakerSettings) Option {
	return func(c *Client) {
		if ps := s.withDefaults().Problems(); len(ps) > 0 {
			c.invalid("WithCircuitBreaker: %s", joinProblems(ps))
			return
		}
		c.breakerSettings, c.breakerOff = s.withDefaults(), false
	}
}

// WithoutCircuitBreaker turns the circuit breaker off, path ejection
// included: every attempt is sent, and BreakerState always reports
// BreakerClosed.
func WithoutCircuitBreaker() Option {
	return func(c *Client) { c.breakerOff = true }
}

// WithBreakerObserver has f called on every change of the breaker's state,
// in order, outside the breaker's lock (so f may call BreakerState), on
// whichever goroutine made the change: keep it cheap and non-blocking.
func WithBreakerObserver(f func(from, to BreakerState)) Option {
	return func(c *Client) { c.onBreaker = f }
}

// BreakerState is the state of the client's circuit breaker.
type BreakerState int

// The breaker's states.
const (
	BreakerClosed   BreakerState = iota // attempts go through
	BreakerHalfOpen                     // a few probe attempts go through
	BreakerOpen                         // attempts are refused
)

// String returns "closed", "half-open" or "open", for logs and labels.
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "BreakerState(" + strconv.Itoa(int(s)) + ")"
}

// BreakerState returns the breaker's current state; BreakerClosed when the
// breaker is off.
func (c *Client) BreakerState() BreakerState {
	if c.breaker == nil {
		return BreakerClosed
	}
	return c.breaker.state()
}

// Ready reports whether calls would be sent now: false only while the
// breaker is open. A readiness probe may use it, knowing that every
// replica shares the upstream: taking all of them out of a load balancer
// turns an upstream outage into an outage of the facade, errors and all.
func (c *Client) Ready() bool { return c.BreakerState() != BreakerOpen }

// ErrCircuitOpen is matched (errors.Is) by every *CircuitOpenError.
var ErrCircuitOpen = errors.New("restclient: circuit breaker open")

// CircuitOpenError is an attempt the circuit breaker refused without
// sending it, because recent attempts mostly failed.
type CircuitOpenError struct {
	Endpoint string // endpoint template
	Path     string // the path asked for, without host or query
	// HalfOpen says the breaker was probing the upstream and the probes it
	// allows were all in flight.
	HalfOpen bool
}

// Error names the path and the breaker's state.
func (e *CircuitOpenError) Error() string {
	if e.HalfOpen {
		return "restclient: " + e.Path + ": not sent: circuit breaker half-open and its probes are in flight"
	}
	return "restclient: " + e.Path + ": not sent: circuit breaker open after repeated upstream failures"
}

// Is makes errors.Is(err, ErrCircuitOpen) hold.
func (e *CircuitOpenError) Is(target error) bool { return target == ErrCircuitOpen }

// breaker wraps gobreaker's two-step breaker: the request path asks before
// an attempt and reports the outcome after it. A nil *breaker allows
// everything.
type breaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	observer func(from, to BreakerState)

	mu      sync.Mutex // guards pending
	pending []stateChange
	deliver sync.Mutex // keeps deliveries in order

	// changes counts state changes, opened the changes to open: failures
	// counted (runs) and ejections (outlier.go) belong to one.
	changes, opened atomic.Uint64
	runsMu          sync.Mutex
	// runs are the paths whose failure was counted since their last
	// success, with the changes they were counted at: a path's further
	// failures are not counted again.
	runs *simplelru.LRU[string, uint64]
}

type stateChange struct{ from, to BreakerState }

// What an attempt tells the breaker, as the error gobreaker sees.
var (
	errBreakerFailure  = errors.New("failure")
	errBreakerExcluded = errors.New("not counted")
)

func newBreaker(s BreakerSettings, observer func(from, to BreakerState)) *breaker {
	b := &breaker{observer: observer}
	b.runs, _ = simplelru.NewLRU[string, uint64](maxTrackedPaths, nil) // fails only for a size below 1
	minRequests, ratio := uint32(s.MinRequests), s.FailureRatio
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "upstream",
		MaxRequests: uint32(s.HalfOpenProbes),
		Interval:    s.Window,
		// A rolling window: a burst of failures ages out gradually rather
		// than vanishing at an arbitrary tick.
		BucketPeriod: max(s.Window/10, time.Millisecond),
		Timeout:      s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			least := max(minRequests, 1)
			if c.ConsecutiveFailures >= least {
				return true // the ratio rule over the most recent attempts
			}
			counted := c.TotalSuccesses + c.TotalFailures
			return counted >= least && float64(c.TotalFailures) >= ratio*float64(counted)
		},
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return err == errBreakerExcluded },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.changes.Add(1)
			if to == gobreaker.StateOpen {
				b.opened.Add(1)
			}
			// Called under gobreaker's lock: queue the change and deliver
			// it once the lock is released (flush).
			if b.observer != nil {
				b.mu.Lock()
				b.pending = append(b.pending, stateChange{fromGobreaker(from), fromGobreaker(to)})
				b.mu.Unlock()
			}
		},
	})
	return b
}

func fromGobreaker(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

func (b *breaker) state() BreakerState {
	s := b.cb.State() // may move open to half-open
	b.flush()
	return fromGobreaker(s)
}

// allow asks for an attempt for path. done must be called with the
// attempt's context and the class of its outcome exactly once. probe says
// the breaker was half-open: the attempt tests the upstream, and counts
// whatever its path.
func (b *breaker) allow(endpoint, path string) (done func(ctx context.Context, class Class), probe bool, err error) {
	probe = b.cb.State() == gobreaker.StateHalfOpen
	report, err := b.cb.Allow()
	b.flush()
	if err != nil {
		return nil, false, &CircuitOpenError{Endpoint: endpoint, Path: path, HalfOpen: errors.Is(err, gobreaker.ErrTooManyRequests)}
	}
	return func(ctx context.Context, class Class) {
		report(b.outcome(ctx, path, class, probe))
		b.flush()
	}, probe, nil
}

// outcome is breakerOutcome counted once per path: a failure of a path
// whose failure was counted already, and that has not succeeded since, is
// not counted again, so that one failing path (one user's list asked for in
// a loop) weighs one failure however often it is asked for.
func (b *breaker) outcome(ctx context.Context, path string, class Class, probe bool) error {
	o := breakerOutcome(ctx, class)
	if probe {
		return o
	}
	gen := b.changes.Load()
	b.runsMu.Lock()
	defer b.runsMu.Unlock()
	switch o {
	case nil:
		b.runs.Remove(path)
	case errBreakerFailure:
		if counted, ok := b.runs.Get(path); ok && counted == gen {
			return errBreakerExcluded
		}
		b.runs.Add(path, gen)
	}
	return o
}

// epoch is the number of times the breaker opened: path ejections of an
// earlier epoch are void. 0 for a nil breaker.
func (b *breaker) epoch() uint64 {
	if b == nil {
		return 0
	}
	return b.opened.Load()
}

// flush delivers queued state changes to the observer. Only one goroutine
// delivers at a time, which keeps the changes in order; one that finds
// another delivering leaves its changes to it, so that an observer calling
// BreakerState (and so flush) does not deadlock on itself.
func (b *breaker) flush() {
	if b.observer == nil {
		return
	}
	for b.deliver.TryLock() {
		b.mu.Lock()
		changes := b.pending
		b.pending = nil
		b.mu.Unlock()
		for _, c := range changes {
			b.observer(c.from, c.to)
		}
		b.deliver.Unlock()
		// A change queued while this goroutine delivered, by one that
		// found the lock taken, is delivered here.
		b.mu.Lock()
		more := len(b.pending) > 0
		b.mu.Unlock()
		if !more {
			return
		}
	}
}

// breakerOutcome is what an attempt of class tells gobreaker: nil for a
// success, errBreakerFailure, or errBreakerExcluded for outcomes that say
// nothing about the upstream's health (Class.Breaker), among them every
// failure of an attempt whose caller left or ran out of time.
func breakerOutcome(ctx context.Context, class Class) error {
	switch {
	case class.Kind == KindOK:
		return nil
	case ctx.Err() != nil:
		return errBreakerExcluded
	case class.Breaker == BreakerSuccess:
		return nil
	case class.Breaker == BreakerFailure:
		return errBreakerFailure
	}
	return errBreakerExcluded
}
