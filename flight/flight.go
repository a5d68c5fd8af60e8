// Package flight shares identical work in flight, in the spirit of
// golang.org/x/sync/singleflight: a caller whose request is the same as
// one already being answered waits for that answer instead of computing
// its own. salesgraph uses it twice: for identical upstream calls
// (restclient) and for identical GraphQL operations (graph).
//
// What is shared is said exactly by a Key: the method, the target, the
// body and every header of the request but the per-request ones
// (PerRequest), so callers with different credentials never share.
//
// Unlike singleflight, every caller keeps its own context:
//
//   - a caller whose context ends stops waiting at once (Wait returns its
//     context's cause), and the others go on waiting;
//   - the work runs with the context of the caller that started it, its
//     values but not its cancellation (context.WithoutCancel), and is
//     cancelled only once every caller has left;
//   - that context's deadline is the latest of the callers' (none once one
//     has none): never enforced by a timer of its own (the callers leave
//     by then, which cancels the work), but there for the work to read, so
//     that it never waits, say for a retry, longer than some caller would;
//   - a panic in the work is raised again in every caller that waits for
//     it.
//
// The result is handed to every caller as it is: what it points to must be
// treated as read-only.
//
// A call is started in one of two ways: Go runs the work on a goroutine of
// its own, for which every caller, the one that started it included,
// waits with Wait; Run runs it on the starting caller's goroutine, for
// work that must stay there (an HTTP handler writing its own response),
// and that caller counts as waiting until its context ends. Seal lets
// work run with Run stop others from joining before it ends.
package flight

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// A Group holds the calls in flight. The zero Group is ready to use; a
// Group must not be copied after first use.
type Group[V any] struct {
	// OnLeave, if set, is called each time a caller stops waiting for a
	// call that has not ended (its context ended first), e.g. to count
	// them. It runs on the leaving caller's goroutine (for the starter of
	// Run, on a goroutine of context.AfterFunc's): keep it cheap.
	OnLeave func()

	mu sync.Mutex
	m  map[Key]*Call[V]

	saltOnce  sync.Once
	saltBytes [32]byte
}

// A Call is one piece of work in flight and the callers waiting for it.
type Call[V any] struct {
	g    *Group[V]
	key  Key
	done chan struct{} // closed once the work has ended and val, panic are set

	val   V
	panic any // what the work panicked with, raised again in every caller

	// Guarded by g.mu.
	waiters     int  // the work is cancelled at 0
	starterLeft bool // the starter of Run is no longer among the waiters
	abandoned   bool // every caller left, which cancelled the work

	ctx    context.Context // the work's: see runCtx
	cancel context.CancelFunc
	// latest is the latest deadline of the callers that joined, in Unix
	// nanoseconds; noDeadline once one joined without a deadline.
	latest atomic.Int64
}

const noDeadline = math.MaxInt64

// Join makes the caller, whose context is ctx, one of the callers of the
// call with key: the one in flight, or a new one (started true), which the
// caller must then start with Go or Run. Join does not wait.
func (g *Group[V]) Join(ctx context.Context, key Key) (c *Call[V], started bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.m[key]; ok {
		c.waiters++
		c.joined(ctx)
		return c, false
	}
	if g.m == nil {
		g.m = make(map[Key]*Call[V])
	}
	c = &Call[V]{g: g, key: key, done: make(chan struct{}), waiters: 1}
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.ctx, c.cancel = runCtx[V]{base, c}, cancel
	c.joined(ctx)
	g.m[key] = c
	return c, true
}

// joined widens the work's deadline to cover ctx's; under g.mu.
func (c *Call[V]) joined(ctx context.Context) {
	d, ok := ctx.Deadline()
	switch {
	case !ok:
		c.latest.Store(noDeadline)
	case d.UnixNano() > c.latest.Load():
		c.latest.Store(d.UnixNano())
	}
}

// runCtx is the context the work runs with: the starter's values,
// cancelled once every caller has left, and for its deadline the latest
// of its callers'. It is not shortened when a caller leaves, so work that
// waits for it may outlast the callers that remain; it then ends as they
// leave.
type runCtx[V any] struct {
	context.Context
	c *Call[V]
}

func (r runCtx[V]) Deadline() (time.Time, bool) {
	v := r.c.latest.Load()
	if v == noDeadline {
		return time.Time{}, false
	}
	return time.Unix(0, v), true
}

// Go runs fn, the call's work, on a goroutine of its own, with the call's
// context (see the package documentation). Every caller, the one that
// started the call included, then waits for it with Wait.
func (c *Call[V]) Go(fn func(ctx context.Context) V) {
	go func() {
		defer c.end()
		defer func() { c.panic = recover() }()
		c.val = fn(c.ctx)
	}()
}

// Run runs fn, the call's work, on the calling goroutine, with the call's
// context, and returns its result; the calling caller, which started the
// call, counts as waiting for it until ctx, its own context, ends. A panic
// in fn is raised again here, once the other callers have been let go.
func (c *Call[V]) Run(ctx context.Context, fn func(ctx context.Context) V) V {
	stop := context.AfterFunc(ctx, func() { c.leave(true) })
	func() {
		defer func() {
			stop()
			c.panic = recover()
			c.end()
		}()
		c.val = fn(c.ctx)
	}()
	if c.panic != nil {
		panic(c.panic)
	}
	return c.val
}

// end takes the call out of its group, so that no caller joins it once
// its result is set, and publishes the result.
func (c *Call[V]) end() {
	c.g.mu.Lock()
	if c.g.m[c.key] == c {
		delete(c.g.m, c.key)
	}
	c.g.mu.Unlock()
	close(c.done)
	c.cancel() // nothing left to cancel: frees the context
}

// Wait returns the call's result once it has one, or, when ctx ends first,
// leaves the call and returns ctx's cause at once: the call goes on for
// the callers still waiting, and is cancelled if there are none (see
// Abandoned). A result ready as ctx ends wins. If the work panicked, Wait
// panics with the same value.
func (c *Call[V]) Wait(ctx context.Context) (V, error) {
	select {
	case <-c.done:
		return c.result(), nil
	case <-ctx.Done():
	}
	select {
	case <-c.done:
		return c.result(), nil
	default:
	}
	c.leave(false)
	var zero V
	return zero, context.Cause(ctx)
}

func (c *Call[V]) result() V {
	if c.panic != nil {
		panic(c.panic)
	}
	return c.val
}

// leave drops a caller that stopped waiting; the last one cancels the work
// and takes the call out of its group, so that a later caller starts
// afresh rather than join work on its way out.
func (c *Call[V]) leave(starter bool) {
	c.g.mu.Lock()
	c.waiters--
	c.starterLeft = c.starterLeft || starter
	if c.waiters == 0 {
		if c.g.m[c.key] == c {
			delete(c.g.m, c.key)
		}
		c.abandoned = true
		c.cancel()
	}
	c.g.mu.Unlock()
	if c.g.OnLeave != nil {
		c.g.OnLeave()
	}
}

// Done is closed once the call's work has ended, its result set.
func (c *Call[V]) Done() <-chan struct{} { return c.done }

// Abandoned reports whether every caller left before the work ended,
// which cancelled it. A caller that left may wait for Done, which then
// comes promptly, so that when it returns the work holds nothing (a
// connection, memory), as when it did the work itself.
func (c *Call[V]) Abandoned() bool {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	return c.abandoned
}

// Seal, for work run with Run, takes the call out of its group so that no
// more callers join it, and reports whether any caller besides the one
// that started it is waiting for it: whether its result is to be handed
// over at all.
func (c *Call[V]) Seal() (others bool) {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	if c.g.m[c.key] == c {
		delete(c.g.m, c.key)
	}
	n := c.waiters
	if !c.starterLeft {
		n--
	}
	return n > 0
}
