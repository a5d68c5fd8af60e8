package restclient

import (
	"context"
	"errors"
	"strconv"
	"sync"
)

// The memory budget for response bodies. Each body is read into memory
// whole before it is decoded, up to the per-body cap (WithMaxResponseBytes);
// without a bound on all of them together, many concurrent large answers
// grow the heap by cap × calls in flight. The budget is reserved before the
// bytes are read: before its first byte a body reserves its declared
// length, or a first block when its length is unknown (chunked, or
// decompressed on the fly), waiting for room until the call's timeout. A
// body of unknown length reserves more as it grows, and fails at once when
// there is no room left rather than wait while holding memory, which could
// leave every reader waiting for another.
//
// The records decoded from a body keep a copy of its text (scanner.sub),
// so once a body is decoded its size lives on for as long as its records.
// A context made by WithBodyHold keeps each answer's room reserved until
// the hold is released, instead of giving it back once the answer is
// decoded: the budget then bounds the bodies being read and the records
// still in use together. A call under a hold that keeps room fails at once
// when there is none, like a growing body, and one that was waiting gives
// up as soon as its hold starts keeping room (another call of the same
// operation got its answer), so that holders never wait for one another.
//
// Waits are served in order, so that a large body is not starved by a
// stream of smaller ones, except that a reservation of at most a first
// block takes room that is free at once: the API's answers are mostly that
// small, and they cannot starve a large one for long, since the calls in
// flight are bounded (a few hundred first blocks are a few MiB).

const (
	// firstBodyBlock is what a body of unknown length reserves before its
	// first byte; it doubles from there. Most answers of this API fit.
	firstBodyBlock = 32 << 10
)

// ErrBodyBudget is matched (errors.Is) by every *BodyBudgetError.
var ErrBodyBudget = errors.New("restclient: memory budget for response bodies exhausted")

// BodyBudgetError is a call whose answer was not read, or not read to the
// end, because the client's memory budget for response bodies
// (WithBodyBudget) had no room for it. The upstream is not at fault: the
// error counts neither as a failure for the circuit breaker nor as a reason
// to retry.
type BodyBudgetError struct {
	Endpoint string // endpoint template
	Path     string // the path asked for, without host or query
	Need     int64  // bytes the body needed beyond what it held
	Budget   int64  // the budget, in bytes
	// Waited says the body's declared length was waited for until the
	// call's timeout; otherwise it found no room at once: a body of unknown
	// length growing, or a call under a WithBodyHold that already keeps
	// room, neither of which waits while holding memory.
	Waited bool
}

// Error names the path and what did not fit.
func (e *BodyBudgetError) Error() string {
	how := "no room for "
	if e.Waited {
		how = "timed out waiting for "
	}
	return "restclient: " + e.Path + ": memory budget for response bodies (" + strconv.FormatInt(e.Budget, 10) +
		" bytes) full: " + how + strconv.FormatInt(e.Need, 10) + " bytes"
}

// Is makes errors.Is(err, ErrBodyBudget) hold.
func (e *BodyBudgetError) Is(target error) bool { return target == ErrBodyBudget }

// WithBodyBudget bounds the bytes of response bodies the client holds in
// memory at once, across all its calls (default 256 MiB, or the per-body
// cap if that is larger): the bodies being read or decoded, and those whose
// records a WithBodyHold still keeps. It must be at least
// WithMaxResponseBytes, so that any body the cap allows can be read. One
// Client serves a whole process, so this bounds the process's upstream
// bodies.
func WithBodyBudget(n int64) Option {
	return func(c *Client) {
		if n <= 0 {
			c.invalid("WithBodyBudget: %d is not a positive size", n)
			return
		}
		c.bodyBudget = n
	}
}

// BodyMemoryStats describes the client's memory budget for response bodies.
type BodyMemoryStats struct {
	Limit   int64 // the budget, in bytes
	InUse   int64 // bytes reserved by bodies being read or decoded now, or kept by holds
	Peak    int64 // the most ever reserved at once; never above Limit
	Waiting int   // calls waiting for room for their declared length
}

// BodyMemory reports the memory budget's state, for metrics and tests.
func (c *Client) BodyMemory() BodyMemoryStats {
	b := c.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	return BodyMemoryStats{Limit: b.size, InUse: b.used, Peak: b.peak, Waiting: len(b.waiters)}
}

// bodyBudget is a weighted semaphore in bytes. It is not
// golang.org/x/sync/semaphore because a growing body must take room ahead
// of the calls waiting to start one (it is already holding memory, and
// finishing it frees memory soonest), and that semaphore's TryAcquire fails
// whenever anyone waits.
type bodyBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	peak    int64
	waiters []*budgetWaiter // FIFO: a large body is not starved by small ones
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once n is reserved for it
}

func newBodyBudget(size int64) *bodyBudget { return &bodyBudget{size: size} }

// take reserves n bytes under b.mu.
func (b *bodyBudget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// errHolding ends a wait for room whose caller's hold started keeping room
// meanwhile (acquireUnless).
var errHolding = errors.New("restclient: the call's hold keeps room now")

// acquire reserves n bytes, waiting in turn until they are free or ctx
// ends. n must not exceed the size.
func (b *bodyBudget) acquire(ctx context.Context, n int64) error {
	return b.acquireUnless(ctx, n, nil)
}

// acquireUnless is acquire that also gives up, with errHolding, once stop
// is closed.
func (b *bodyBudget) acquireUnless(ctx context.Context, n int64, stop <-chan struct{}) error {
	b.mu.Lock()
	if (len(b.waiters) == 0 || n <= firstBodyBlock) && b.used+n <= b.size {
		b.take(n)
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	err := errHolding
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-stop:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.used -= n
	default:
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
	}
	b.wake() // whoever was behind it may fit now
	return err
}

// grow reserves n more bytes for a body already being read, ahead of the
// waiters, or reports that they are not free.
func (b *bodyBudget) grow(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.size {
		return false
	}
	b.take(n)
	return true
}

// release gives n bytes back.
func (b *bodyBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.wake()
}

// wake grants, under b.mu, the waiters that now fit: in order up to the
// first that does not, and after it only first blocks.
func (b *bodyBudget) wake() {
	kept := b.waiters[:0]
	blocked := false
	for _, w := range b.waiters {
		if b.used+w.n <= b.size && (!blocked || w.n <= firstBodyBlock) {
			b.take(w.n)
			close(w.ready)
			continue
		}
		blocked = true
		kept = append(kept, w)
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
}

type bodyHoldKey struct{}

// WithBodyHold returns a context whose calls keep the room each answer
// they decode took in the body budget (WithBodyBudget) until release is
// called, for the records decoded from it, which keep its text: call
// release once the caller is done with every record it got under the
// context, e.g. once a response made of them is built. Once the hold keeps
// room, a call under the context that finds none for its body fails at
// once with a *BodyBudgetError (Waited false), a waiting one included,
// since waiting while holding could leave every holder waiting for
// another. release may be called more than once; room for an answer
// decoded after it is given back at once.
//
// A shared call (see WithoutSharing) keeps its room in the hold of the
// caller that started it, and answers served from the response cache are
// counted as answers read are.
func WithBodyHold(ctx context.Context) (_ context.Context, release func()) {
	h := &bodyHold{holding: make(chan struct{})}
	return context.WithValue(ctx, bodyHoldKey{}, h), h.release
}

func bodyHoldFrom(ctx context.Context) *bodyHold {
	h, _ := ctx.Value(bodyHoldKey{}).(*bodyHold)
	return h
}

// bodyHold is the room a WithBodyHold context keeps, per budget (one, but
// a context may be used with several clients).
type bodyHold struct {
	holding  chan struct{} // closed once the hold keeps room, in any budget
	mu       sync.Mutex
	kept     map[*bodyBudget]int64
	released bool
}

// keeps reports whether h keeps room; a nil hold keeps none.
func (h *bodyHold) keeps() bool {
	select {
	case <-h.started():
		return true
	default:
		return false
	}
}

// started is closed once h keeps room; nil, never closed, for a nil hold.
func (h *bodyHold) started() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.holding
}

// keep takes over n reserved bytes of b, or gives them back at once if
// the hold was released.
func (h *bodyHold) keep(b *bodyBudget, n int64) {
	if n == 0 {
		return
	}
	h.mu.Lock()
	if !h.released {
		if h.kept == nil {
			h.kept = make(map[*bodyBudget]int64, 1)
			close(h.holding)
		}
		h.kept[b] += n
		n = 0
	}
	h.mu.Unlock()
	b.release(n)
}

func (h *bodyHold) release() {
	h.mu.Lock()
	kept := h.kept
	h.kept, h.released = nil, true
	h.mu.Unlock()
	for b, n := range kept {
		b.release(n)
	}
}
