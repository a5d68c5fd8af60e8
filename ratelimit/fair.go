package ratelimit

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// Fair hands the turns of a [Limiter] out fairly among keys (callers): each
// key's waiting calls queue on their own, and turns go to the queues in
// turn, round-robin, one call per queue per round. A call of a quiet key
// therefore waits for at most one turn of every other waiting key, however
// many calls a busy key has queued; without it the limiter serves calls in
// the order they arrive (Local) or to whichever asks at the right moment
// (Shared), and a busy key's backlog delays everyone.
//
// Only one call at a time waits in the underlying limiter (the head); the
// others wait in their queues, and the head, once admitted, hands the next
// wait to the next queue. Turns are thus handed out in the order of the
// rounds, while the underlying limiter keeps deciding when a turn comes
// (for [Shared], across the fleet: fairness is per process, the rate is the
// fleet's). A call that finds nobody waiting goes straight to the limiter.
//
// A waiting call is bounded by its context: when its turn cannot come
// before its deadline by the rate's estimate, or its deadline passes while
// it waits, it gets an [*Error], as from the limiter itself.
type Fair struct {
	l         Limiter
	perTurn   time.Duration // the limiter's interval between turns; 0 when unknown
	burst     int
	maxQueues int
	hooks     Hooks

	mu      sync.Mutex
	holding bool                  // a call is in l.Wait; queues are empty unless it is
	queues  map[uint64]*fairQueue // the waiting keys' queues, never empty
	ring    list.List             // of *fairQueue, in serving order
	next    *list.Element         // the queue served next; nil when none waits
	waiting int
}

// DefaultMaxQueues is [FairOptions.MaxQueues]'s default.
const DefaultMaxQueues = 1024

// overflowKey is the queue shared by keys that find MaxQueues queues
// already waiting.
const overflowKey = 0

// FairOptions configures [NewFair]; zero fields take the defaults.
type FairOptions struct {
	// MaxQueues bounds the queues, hence the memory a flood of distinct
	// keys can take: once all but one are taken, a key without a queue of
	// its own joins the last one, an overflow queue shared by every key in
	// its situation (default DefaultMaxQueues).
	MaxQueues int
	// Hooks.Limited is called for each call Fair refuses itself, as the
	// limiters call it for theirs.
	Hooks Hooks
}

type fairQueue struct {
	key     uint64
	waiters []*fairWaiter // in arrival order
	elem    *list.Element
}

type fairWaiter struct {
	turn     chan struct{} // closed when it becomes the head
	promoted bool          // under Fair.mu: it is the head, and must pass the turn on
	queue    *fairQueue
}

// NewFair returns l with its turns shared fairly among keys. The rate and
// burst of a [*Local] or [*Shared] let it refuse at once a call whose turn
// would come after its deadline; with another Limiter such calls wait
// until their deadline.
func NewFair(l Limiter, o FairOptions) *Fair {
	f := &Fair{l: l, maxQueues: o.MaxQueues, hooks: o.Hooks, queues: make(map[uint64]*fairQueue)}
	if f.maxQueues <= 0 {
		f.maxQueues = DefaultMaxQueues
	}
	if r, ok := l.(interface{ Rate() (float64, int) }); ok {
		if perSecond, burst := r.Rate(); perSecond > 0 {
			f.perTurn, f.burst = time.Duration(float64(time.Second)/perSecond), burst
		}
	}
	return f
}

// Wait implements [Limiter] for calls of no particular key: they share one
// queue.
func (f *Fair) Wait(ctx context.Context) error { return f.WaitKey(ctx, overflowKey) }

// WaitKey waits for a turn of the call of key, after the calls of key
// that came before it and at most one call of every other key per round.
// It returns as the underlying limiter's Wait does: nil for a turn, an
// *Error for a turn that comes too late, ctx's error when ctx ends first.
func (f *Fair) WaitKey(ctx context.Context, key uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	if !f.holding {
		f.holding = true
		f.mu.Unlock()
		return f.head(ctx)
	}
	estimate := f.estimateLocked(key)
	if deadline, ok := ctx.Deadline(); ok && time.Now().Add(estimate).After(deadline) {
		f.mu.Unlock()
		return limited(f.hooks, estimate)
	}
	w := f.enqueueLocked(key)
	f.mu.Unlock()

	start := time.Now()
	select {
	case <-w.turn:
		return f.head(ctx)
	case <-ctx.Done():
	}
	f.mu.Lock()
	if w.promoted {
		f.passLocked() // the turn came as the caller left: hand it on
	} else {
		f.removeLocked(w)
	}
	f.mu.Unlock()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The deadline bounded the wait: the turn would have come later.
		return limited(f.hooks, max(estimate, time.Since(start)+f.perTurn))
	}
	return ctx.Err()
}

// head waits in the underlying limiter, then hands the head on.
func (f *Fair) head(ctx context.Context) error {
	defer func() {
		f.mu.Lock()
		f.passLocked()
		f.mu.Unlock()
	}()
	return f.l.Wait(ctx)
}

// passLocked makes the first waiter of the next queue the head, or leaves
// nobody holding when none waits.
func (f *Fair) passLocked() {
	if f.next == nil {
		f.holding = false
		return
	}
	q := f.next.Value.(*fairQueue)
	w := q.waiters[0]
	q.waiters[0] = nil
	q.waiters = q.waiters[1:]
	f.waiting--
	f.advanceLocked(q)
	w.promoted = true
	close(w.turn)
}

// advanceLocked moves the round past q, which was just served or lost a
// waiter, dropping q if it has none left.
func (f *Fair) advanceLocked(q *fairQueue) {
	if f.next == q.elem {
		f.next = q.elem.Next()
		if f.next == nil {
			f.next = f.ring.Front()
		}
	}
	if len(q.waiters) == 0 {
		if f.next == q.elem {
			f.next = nil // q was the only queue
		}
		f.ring.Remove(q.elem)
		delete(f.queues, q.key)
	}
}

// enqueueLocked queues a waiter for key. A new queue joins the round just
// before the queue served next, that is at the end of the current round.
func (f *Fair) enqueueLocked(key uint64) *fairWaiter {
	key = f.queueKeyLocked(key)
	q, ok := f.queues[key]
	if !ok {
		q = &fairQueue{key: key}
		if f.next == nil {
			q.elem = f.ring.PushBack(q)
			f.next = q.elem
		} else {
			q.elem = f.ring.InsertBefore(q, f.next)
		}
		f.queues[key] = q
	}
	w := &fairWaiter{turn: make(chan struct{}), queue: q}
	q.waiters = append(q.waiters, w)
	f.waiting++
	return w
}

// queueKeyLocked is the key of the queue a call of key joins: its own,
// or the overflow queue once the others are all taken.
func (f *Fair) queueKeyLocked(key uint64) uint64 {
	if _, ok := f.queues[key]; !ok && len(f.queues) >= f.maxQueues-1 {
		return overflowKey
	}
	return key
}

// removeLocked takes a waiter that left out of its queue.
func (f *Fair) removeLocked(w *fairWaiter) {
	q := w.queue
	for i, x := range q.waiters {
		if x == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			f.waiting--
			break
		}
	}
	if len(q.waiters) == 0 {
		f.advanceLocked(q)
	}
}

// estimateLocked is an optimistic estimate of the wait of a call of key
// queued now: the turns that come before it (the head's, those of its own
// key queued earlier, and as many of every other key's), less the burst
// the limiter may have banked. Optimistic, so that no call is refused that
// could have been served; a call it lets wait in vain is still bounded by
// its deadline.
func (f *Fair) estimateLocked(key uint64) time.Duration {
	if f.perTurn == 0 {
		return 0
	}
	key = f.queueKeyLocked(key)
	own := 0
	if q, ok := f.queues[key]; ok {
		own = len(q.waiters)
	}
	ahead := 1 + own // the head
	for k, q := range f.queues {
		if k != key {
			ahead += min(len(q.waiters), own)
		}
	}
	return time.Duration(max(0, ahead-f.burst)) * f.perTurn
}

// Waiting returns how many calls wait in the queues (the head, in the
// limiter, not counted), for a gauge.
func (f *Fair) Waiting() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting
}

// Queues returns how many keys have calls waiting, for a gauge.
func (f *Fair) Queues() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queues)
}
