package restclient

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Path ejection is the circuit breaker's per-path half (breaker.go is the
// upstream's). One path failing, such as one user's list the upstream
// cannot serve, says nothing of the upstream's other paths: counting it
// against the one breaker let a caller who asks for that path in a loop
// open the breaker for everyone. So the breaker counts a path's failures
// once until the path succeeds again (breaker.go), and a path that keeps
// failing is ejected, as Envoy's outlier detection ejects a host: after
// BreakerSettings.PathFailures failures in a row, calls for it fail at once
// with *PathEjectedError for PathEjection; the first call after that is a
// probe, whose failure ejects the path again for as long once more (up to
// MaxPathEjection) and whose success forgets it.
//
// A path is ejected for one caller (callerKey: the credential it sends),
// not for all: the same path can be another tenant's record, and one
// caller's failures must never make another's calls fail. At most
// maxTrackedPaths (caller, path) pairs are remembered, least recently used
// first out; only failing ones are, so callers who cycle through healthy
// ids take no room, and the failures of one whose pair was pushed out are
// counted from scratch. When the breaker opens the ejections are
// forgotten: the upstream failed as a whole, and the paths are not to
// blame.

// maxTrackedPaths bounds the failing (caller, path) pairs remembered, and
// the paths whose failure the breaker has counted: a few MB at most, the
// last failure's description (512 bytes at most) the largest part.
const maxTrackedPaths = 4096

// ErrPathEjected is matched (errors.Is) by every *PathEjectedError.
var ErrPathEjected = errors.New("restclient: upstream path ejected")

// PathEjectedError is a call refused unsent because the upstream failed
// the caller's last calls for the same path (see BreakerSettings): the
// upstream as a whole is still served.
type PathEjectedError struct {
	Endpoint string // endpoint template
	Path     string // the path asked for, without host or query
	// RetryAfter is how long the ejection still lasts.
	RetryAfter time.Duration
	// Last is the last failure the upstream gave this caller for this
	// path, which ejected it.
	Last error
}

// Error names the path, the time left and the last failure.
func (e *PathEjectedError) Error() string {
	s := "restclient: " + e.Path + ": not sent: the upstream failed repeatedly for this path, paused for " + e.RetryAfter.Round(time.Millisecond).String()
	if e.Last != nil {
		s += " (last: " + strings.TrimPrefix(e.Last.Error(), "restclient: "+e.Path+": ") + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrPathEjected) hold. The last failure is a
// field, not wrapped: the call itself failed for another reason.
func (e *PathEjectedError) Is(target error) bool { return target == ErrPathEjected }

// PathEjection describes a path ejected for a caller, for logs and
// metrics; like CallInfo it carries no host and no header.
type PathEjection struct {
	Endpoint string // endpoint template
	Path     string // the path asked for, without host or query
	// Failures is how many failures in a row ejected it: PathFailures
	// for a first ejection, 1 for a probe that failed.
	Failures int
	// Ejections counts this path's ejections in a row for this caller,
	// without a success in between, this one included.
	Ejections int
	Duration  time.Duration // how long it lasts
	Err       error         // the failure that ejected it
}

// WithEjectionObserver has f called for every path ejection, on the
// calling goroutine: keep it cheap and non-blocking.
func WithEjectionObserver(f func(PathEjection)) Option {
	return func(c *Client) { c.onEjection = f }
}

// EjectedPaths returns how many (caller, path) pairs are ejected now, for
// a gauge.
func (c *Client) EjectedPaths() int { return c.ejector.ejected() }

// ejector keeps the failing paths of each caller. A nil *ejector ejects
// nothing.
type ejector struct {
	failures  int
	base, max time.Duration
	now       func() time.Time
	epoch     func() uint64 // the breaker's openings so far: ejections of an older epoch are void
	observe   func(PathEjection)

	mu    sync.Mutex
	paths *simplelru.LRU[pathKey, *pathState]
}

type pathKey struct {
	caller uint64
	path   string
}

type pathState struct {
	epoch     uint64
	failures  int       // in a row, since the last success or ejection
	ejections int       // in a row, without a success in between
	until     time.Time // the end of the ejection; zero when never ejected
	last      error
}

func newEjector(s BreakerSettings, now func() time.Time, epoch func() uint64, observe func(PathEjection)) *ejector {
	if s.PathFailures < 0 {
		return nil
	}
	paths, _ := simplelru.NewLRU[pathKey, *pathState](maxTrackedPaths, nil) // fails only for a size below 1
	return &ejector{failures: s.PathFailures, base: s.PathEjection, max: s.MaxPathEjection, now: now, epoch: epoch, observe: observe, paths: paths}
}

// check refuses a call of caller for path while the pair is ejected.
func (e *ejector) check(caller uint64, endpoint, path string) error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k := pathKey{caller, path}
	s, ok := e.paths.Get(k)
	switch {
	case !ok:
		return nil
	case s.epoch != e.epoch():
		e.paths.Remove(k)
		return nil
	}
	if left := s.until.Sub(e.now()); left > 0 {
		return &PathEjectedError{Endpoint: endpoint, Path: path, RetryAfter: left, Last: s.last}
	}
	return nil
}

// record takes the outcome of an attempt of caller for path. counts is
// false for an attempt the upstream's breaker admitted as a probe, whose
// failure is the upstream's rather than the path's.
func (e *ejector) record(ctx context.Context, caller uint64, endpoint, path string, class Class, err error, counts bool) {
	if e == nil {
		return
	}
	outcome := breakerOutcome(ctx, class)
	if outcome == errBreakerExcluded || (outcome != nil && !counts) {
		return
	}
	k := pathKey{caller, path}
	e.mu.Lock()
	if outcome == nil {
		e.paths.Remove(k) // the path works: forget its failures and ejections
		e.mu.Unlock()
		return
	}
	epoch, now := e.epoch(), e.now()
	s, ok := e.paths.Get(k)
	if !ok || s.epoch != epoch {
		s = &pathState{epoch: epoch}
		e.paths.Add(k, s)
	}
	if now.Before(s.until) {
		e.mu.Unlock() // sent before the ejection began: nothing new
		return
	}
	s.failures++
	s.last = err
	threshold := e.failures
	if s.ejections > 0 {
		threshold = 1 // the probe after an ejection
	}
	if s.failures < threshold {
		e.mu.Unlock()
		return
	}
	failures := s.failures
	s.failures = 0
	s.ejections = min(s.ejections+1, maxEjectionsInARow)
	d := min(e.base*time.Duration(s.ejections), e.max)
	s.until = now.Add(d)
	ev := PathEjection{Endpoint: endpoint, Path: path, Failures: failures, Ejections: s.ejections, Duration: d, Err: err}
	e.mu.Unlock()
	if e.observe != nil {
		e.observe(ev)
	}
}

// maxEjectionsInARow keeps base × ejections far from overflowing; the
// ejection time stops growing at MaxPathEjection long before.
const maxEjectionsInARow = 1 << 20

// ejected counts the pairs ejected now.
func (e *ejector) ejected() int {
	if e == nil {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	epoch, now, n := e.epoch(), e.now(), 0
	for _, s := range e.paths.Values() {
		if s.epoch == epoch && now.Before(s.until) {
			n++
		}
	}
	return n
}
