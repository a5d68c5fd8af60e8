package graph

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// This file is the operation's side of resilience: its deadline, its
// upstream call budget and the waits for upstream slots. The client's side
// (retries, the circuit breaker) is in restclient. The codes of their
// failures are in errors.go.

// DefaultOperationTimeout bounds an operation, upstream waits included.
const DefaultOperationTimeout = 30 * time.Second

// errOperationTimeout is the cause of an operation context whose deadline
// passed, which tells it apart from a deadline of the caller's own.
var errOperationTimeout = errors.New("graph: operation deadline exceeded")

func (c *Options) resilienceDefaults() {
	if c.OperationTimeout <= 0 {
		c.OperationTimeout = DefaultOperationTimeout
	}
	if c.MaxUpstreamCallsPerOperation <= 0 {
		c.MaxUpstreamCallsPerOperation = c.MaxUpstreamCalls
	}
}

// withOperationDeadline bounds one request's operations to d from its
// arrival (withArrival), or from now when it has none. The request's
// context already ends when the client disconnects, cancelling the
// upstream calls with it.
//
// A deadline that has passed already (a request that waited for a shared
// execution until it ran out of time) is not put on the context: gqlgen's
// executor answers nothing at all for a context that has ended. passed
// says so instead, and the operation's loaders refuse its upstream calls
// at once (Loaders.admit), so that it is answered as any operation whose
// deadline passed while it waited for the upstream: OPERATION_TIMEOUT where
// the upstream was needed.
func withOperationDeadline(ctx context.Context, d time.Duration) (_ context.Context, _ context.CancelFunc, passed bool) {
	start, ok := arrivalFrom(ctx)
	if !ok {
		start = time.Now()
	}
	deadline := start.Add(d)
	if !time.Now().Before(deadline) {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, true
	}
	ctx, cancel := context.WithDeadlineCause(ctx, deadline, errOperationTimeout)
	return ctx, cancel, false
}

type arrivalKey struct{}

// withArrival records when the request ctx belongs to arrived: its
// deadline counts from then, whatever it did before it executes. A request
// that waited for an identical one's execution (opshare.go) and then
// executes on its own has only what is left of its deadline.
func withArrival(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, arrivalKey{}, t)
}

func arrivalFrom(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(arrivalKey{}).(time.Time)
	return t, ok
}

// operationTimedOut reports whether ctx is an operation's context whose
// deadline has passed. Rejoin: an incrementally delivered operation's
// executor context never ends itself.
func operationTimedOut(ctx context.Context) bool {
	return errors.Is(context.Cause(gqlhttp.Rejoin(ctx)), errOperationTimeout)
}

// budgetError is an upstream call refused because the operation has made
// as many as it may.
type budgetError struct{ limit int }

func (e *budgetError) Error() string {
	return fmt.Sprintf("upstream call budget of %d calls per operation spent", e.limit)
}

// Scopes of the concurrency limits, for limitError and extensions.scope.
const (
	scopeOperation = "operation" // MaxOperationConcurrency
	scopeService   = "service"   // MaxUpstreamConcurrency
)

// opGuard is an operation's share of the resilience state: its upstream
// call count and the bounds its errors name.
type opGuard struct {
	calls       atomic.Int64
	maxCalls    int // 0: no budget
	perOp       int
	globalLimit int
}

func (g *opGuard) configure(cfg *loaderConfig) {
	g.maxCalls, g.perOp, g.globalLimit = cfg.maxCalls, int(cfg.perRequest), cfg.globalLimit
}

// admit lets one upstream call of the operation start: within the call
// budget, then within the per-operation and the global concurrency bounds,
// waiting for a slot at most until the operation's deadline. release gives
// the slots back.
func (l *Loaders) admit(ctx context.Context) (release func(), err error) {
	// An operation already out of time (or left) fails as such: its call
	// waited for no slot, so no bound is to blame.
	if l.outOfTime {
		return nil, errOperationTimeout
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Every call counts, refused or not, so that an operation cannot keep
	// asking once its budget is spent.
	g := l.guard
	if n := g.calls.Add(1); g.maxCalls > 0 && n > int64(g.maxCalls) {
		return nil, &budgetError{limit: g.maxCalls}
	}
	if err := l.limit.Acquire(ctx, 1); err != nil {
		return nil, &limitError{err: err, scope: scopeOperation, limit: g.perOp}
	}
	if l.global == nil {
		l.made.Add(1)
		return func() { l.limit.Release(1) }, nil
	}
	if err := l.global.Acquire(ctx, 1); err != nil {
		l.limit.Release(1)
		return nil, &limitError{err: err, scope: scopeService, limit: g.globalLimit}
	}
	l.made.Add(1)
	return func() {
		l.global.Release(1)
		l.limit.Release(1)
	}, nil
}

// newPanicError keeps a recovered panic's value and stack for the log.
// Called in the deferred function that recovered, the stack still shows
// where the panic happened.
func newPanicError(v any) *panicError {
	return &panicError{value: v, stack: debug.Stack()}
}
