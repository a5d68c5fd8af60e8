package flight_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/flight"
)

// work is a call's work held at a gate: it counts its runs, reports the
// context it runs with, and returns its value once the gate opens or its
// context ends, whichever is first.
type work struct {
	gate    chan struct{}
	runs    atomic.Int64
	started chan context.Context
	value   string
}

func newWork(value string) *work {
	return &work{gate: make(chan struct{}), started: make(chan context.Context, 8), value: value}
}

func (w *work) fn(ctx context.Context) string {
	w.runs.Add(1)
	w.started <- ctx
	select {
	case <-w.gate:
		return w.value
	case <-ctx.Done():
		return "cancelled"
	}
}

// call joins key's call as a caller with ctx, starting it with Go when it
// is the first, and waits for it on its own goroutine.
type result struct {
	v       string
	err     error
	started bool
}

func call(g *flight.Group[string], ctx context.Context, key flight.Key, w *work) <-chan result {
	c, started := g.Join(ctx, key)
	if started {
		c.Go(w.fn)
	}
	out := make(chan result, 1)
	go func() {
		v, err := c.Wait(ctx)
		out <- result{v, err, started}
	}()
	return out
}

var key = flight.Key{1}

// TestIdenticalCallsShareOneRun: callers that join while the work is held
// at its gate all get its one result; the first started it.
func TestIdenticalCallsShareOneRun(t *testing.T) {
	var g flight.Group[string]
	w := newWork("answer")
	first := call(&g, context.Background(), key, w)
	<-w.started
	var others []<-chan result
	for range 4 {
		others = append(others, call(&g, context.Background(), key, w))
	}
	close(w.gate)
	got := <-first
	assert.Equal(t, result{"answer", nil, true}, got)
	for _, c := range others {
		assert.Equal(t, result{"answer", nil, false}, <-c)
	}
	assert.EqualValues(t, 1, w.runs.Load(), "one run for five callers")

	// Once it has ended, the same key starts afresh.
	w2 := newWork("again")
	close(w2.gate)
	assert.Equal(t, result{"again", nil, true}, <-call(&g, context.Background(), key, w2))
}

// TestOtherKeysDoNotShare: a call with another key runs on its own while
// the first is held.
func TestOtherKeysDoNotShare(t *testing.T) {
	var g flight.Group[string]
	a, b := newWork("a"), newWork("b")
	ra := call(&g, context.Background(), flight.Key{1}, a)
	rb := call(&g, context.Background(), flight.Key{2}, b)
	<-a.started
	<-b.started // both run at once: neither waits for the other
	close(a.gate)
	close(b.gate)
	assert.Equal(t, "a", (<-ra).v)
	assert.Equal(t, "b", (<-rb).v)
}

// TestACallerLeavingEarlyGetsItsOwnError: a caller whose context ends
// while the work is held gets its context's cause at once; the work goes
// on, uncancelled, for the caller still waiting.
func TestACallerLeavingEarlyGetsItsOwnError(t *testing.T) {
	for _, leaver := range []string{"the starter", "a joiner"} {
		t.Run(leaver, func(t *testing.T) {
			var left atomic.Int64
			g := flight.Group[string]{OnLeave: func() { left.Add(1) }}
			w := newWork("answer")
			ctxA, cancelA := context.WithCancelCause(context.Background())
			ctxB, cancelB := context.WithCancelCause(context.Background())
			defer cancelA(nil)
			defer cancelB(nil)
			a := call(&g, ctxA, key, w)
			workCtx := <-w.started
			b := call(&g, ctxB, key, w)

			gone, stays, cancel := b, a, cancelB
			if leaver == "the starter" {
				gone, stays, cancel = a, b, cancelA
			}
			cause := errors.New("my own reason")
			cancel(cause)
			got := <-gone // while the work is still held
			assert.ErrorIs(t, got.err, cause)
			assert.Empty(t, got.v)
			assert.EqualValues(t, 1, left.Load())
			assert.NoError(t, workCtx.Err(), "the work goes on for the other caller")

			close(w.gate)
			assert.Equal(t, "answer", (<-stays).v)
			assert.EqualValues(t, 1, w.runs.Load())
		})
	}
}

// TestWorkIsCancelledWhenEveryCallerLeft: once the last caller leaves,
// the work's context is cancelled and the call abandoned; the next caller
// with the same key starts new work rather than join it on its way out.
func TestWorkIsCancelledWhenEveryCallerLeft(t *testing.T) {
	var g flight.Group[string]
	w := newWork("answer")
	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	a := call(&g, ctxA, key, w)
	workCtx := <-w.started
	c, started := g.Join(ctxB, key)
	require.False(t, started)

	cancelA()
	require.ErrorIs(t, (<-a).err, context.Canceled)
	assert.NoError(t, workCtx.Err(), "one caller is still waiting")
	assert.False(t, c.Abandoned())

	cancelB()
	_, err := c.Wait(ctxB)
	require.ErrorIs(t, err, context.Canceled)
	<-workCtx.Done() // the work was cancelled
	assert.True(t, c.Abandoned())
	<-c.Done()

	w2 := newWork("fresh")
	close(w2.gate)
	assert.Equal(t, result{"fresh", nil, true}, <-call(&g, context.Background(), key, w2))
	assert.EqualValues(t, 1, w.runs.Load())
	assert.EqualValues(t, 1, w2.runs.Load())
}

// TestTheWorkHasTheLatestDeadline: the work's context has the starter's
// values, not its cancellation, and the latest of its callers' deadlines,
// or none once a caller has none.
func TestTheWorkHasTheLatestDeadline(t *testing.T) {
	type valueKey struct{}
	base := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name      string
		deadlines []time.Time // zero: none
		want      time.Time   // zero: none
	}{
		{"one caller", []time.Time{base}, base},
		{"a later one joins", []time.Time{base, base.Add(time.Minute)}, base.Add(time.Minute)},
		{"an earlier one joins", []time.Time{base.Add(time.Minute), base}, base.Add(time.Minute)},
		{"one has none", []time.Time{base, {}, base.Add(time.Minute)}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g flight.Group[string]
			w := newWork("answer")
			var results []<-chan result
			for i, d := range tc.deadlines {
				ctx := context.WithValue(context.Background(), valueKey{}, i)
				if !d.IsZero() {
					var cancel context.CancelFunc
					ctx, cancel = context.WithDeadline(ctx, d)
					defer cancel()
				}
				results = append(results, call(&g, ctx, key, w))
			}
			workCtx := <-w.started
			// Every caller has joined: Join returned before call did.
			got, ok := workCtx.Deadline()
			assert.Equal(t, !tc.want.IsZero(), ok)
			assert.True(t, got.Equal(tc.want), "deadline %v, want %v", got, tc.want)
			assert.Equal(t, 0, workCtx.Value(valueKey{}), "the starter's values")
			close(w.gate)
			for _, r := range results {
				assert.Equal(t, "answer", (<-r).v)
			}
		})
	}
}

// TestAPanicIsRaisedInEveryCaller: work that panics makes every caller
// waiting for it panic with the same value.
func TestAPanicIsRaisedInEveryCaller(t *testing.T) {
	var g flight.Group[string]
	gate := make(chan struct{})
	started := make(chan struct{})
	const callers = 3
	var wg sync.WaitGroup
	panics := make(chan any, callers)
	var calls []*flight.Call[string]
	for range callers {
		c, first := g.Join(context.Background(), key)
		if first {
			c.Go(func(context.Context) string {
				close(started)
				<-gate
				panic("boom")
			})
			<-started
		}
		calls = append(calls, c)
	}
	for _, c := range calls {
		wg.Go(func() {
			defer func() { panics <- recover() }()
			_, _ = c.Wait(context.Background())
		})
	}
	close(gate)
	wg.Wait()
	close(panics)
	n := 0
	for p := range panics {
		assert.Equal(t, "boom", p)
		n++
	}
	assert.Equal(t, callers, n)
}

// TestRunOnTheStartersGoroutine: work run with Run returns its result to
// the starter and hands it to the callers that joined; Seal stops more
// from joining and tells whether anyone but the starter waits, the
// starter counting only until its own context ends.
func TestRunOnTheStartersGoroutine(t *testing.T) {
	for _, tc := range []struct {
		name          string
		joiners       int
		starterLeaves bool
		wantOthers    bool
	}{
		{"alone", 0, false, false},
		{"with a joiner", 1, false, true},
		{"the starter left, a joiner waits", 1, true, true},
		{"the starter left alone", 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var left atomic.Int64
			g := flight.Group[string]{OnLeave: func() { left.Add(1) }}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c, started := g.Join(ctx, key)
			require.True(t, started)
			var joiners []<-chan result
			for range tc.joiners {
				j, started := g.Join(context.Background(), key)
				require.False(t, started)
				out := make(chan result, 1)
				go func() { v, err := j.Wait(context.Background()); out <- result{v, err, false} }()
				joiners = append(joiners, out)
			}
			var others bool
			got := c.Run(ctx, func(workCtx context.Context) string {
				if tc.starterLeaves {
					cancel()
					require.Eventually(t, func() bool { return left.Load() == 1 }, 10*time.Second, time.Millisecond)
				}
				others = c.Seal()
				// Sealed: a caller with the same key now starts anew.
				n, started := g.Join(context.Background(), key)
				assert.True(t, started)
				n.Go(func(context.Context) string { return "new" })
				v, err := n.Wait(context.Background())
				assert.NoError(t, err)
				assert.Equal(t, "new", v)
				if tc.starterLeaves && tc.joiners == 0 {
					assert.Error(t, workCtx.Err(), "nobody waits: cancelled")
					return "cancelled"
				}
				assert.NoError(t, workCtx.Err())
				return "answer"
			})
			assert.Equal(t, tc.wantOthers, others)
			if tc.starterLeaves && tc.joiners == 0 {
				assert.Equal(t, "cancelled", got)
				assert.True(t, c.Abandoned())
			} else {
				assert.Equal(t, "answer", got)
			}
			for _, j := range joiners {
				assert.Equal(t, result{"answer", nil, false}, <-j)
			}
		})
	}
}

// TestRunRaisesAPanicAfterLettingTheOthersGo: the starter of Run panics
// with its work's panic; the callers waiting are let go first, with the
// same panic.
func TestRunRaisesAPanicAfterLettingTheOthersGo(t *testing.T) {
	var g flight.Group[string]
	c, _ := g.Join(context.Background(), key)
	j, _ := g.Join(context.Background(), key)
	waiter := make(chan any, 1)
	go func() {
		defer func() { waiter <- recover() }()
		_, _ = j.Wait(context.Background())
	}()
	assert.PanicsWithValue(t, "boom", func() {
		c.Run(context.Background(), func(context.Context) string { panic("boom") })
	})
	assert.Equal(t, "boom", <-waiter)
}
