package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/ratelimit"
)

// turnstile is a Limiter whose turns the test hands out one at a time, so
// that the order in which Fair grants them is seen without timing. Its
// Rate (one a second, no burst) gives Fair's estimate something to go by.
type turnstile struct {
	turns   chan struct{}
	waiting atomic.Int64 // calls inside Wait
}

func newTurnstile() *turnstile { return &turnstile{turns: make(chan struct{})} }

func (ts *turnstile) Wait(ctx context.Context) error {
	ts.waiting.Add(1)
	defer ts.waiting.Add(-1)
	select {
	case <-ts.turns:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (ts *turnstile) Rate() (float64, int) { return 1, 1 }

// grants records the order in which calls got their turn.
type grants struct {
	mu    sync.Mutex
	order []string
	errs  map[string]error
}

func (g *grants) call(f *ratelimit.Fair, ctx context.Context, key uint64, name string) {
	err := f.WaitKey(ctx, key)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if g.errs == nil {
			g.errs = map[string]error{}
		}
		g.errs[name] = err
		return
	}
	g.order = append(g.order, name)
}

func (g *grants) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.order)
}

func (g *grants) snapshot() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.order...)
}

// eventually polls cond, failing the test after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("not within 10s: %s", what)
		case <-tick.C:
		}
	}
}

// grant hands out n turns, one at a time, each once the previous one was
// taken.
func grant(t *testing.T, ts *turnstile, g *grants, n int) {
	t.Helper()
	for range n {
		before := g.len()
		eventually(t, "a call waits in the limiter", func() bool { return ts.waiting.Load() == 1 })
		ts.turns <- struct{}{}
		eventually(t, "the turn was taken", func() bool { return g.len() == before+1 })
	}
}

// queue starts a call of key and waits until it is queued (or holds the
// limiter), so that the calls' order of arrival is the test's.
func queue(t *testing.T, wg *sync.WaitGroup, f *ratelimit.Fair, ts *turnstile, g *grants, ctx context.Context, key uint64, name string) {
	t.Helper()
	before := int64(f.Waiting()) + ts.waiting.Load()
	wg.Go(func() { g.call(f, ctx, key, name) })
	eventually(t, name+" is queued", func() bool { return int64(f.Waiting())+ts.waiting.Load() == before+1 })
}

func TestFairServesAQuietKeyWithinOneRound(t *testing.T) {
	ts := newTurnstile()
	f := ratelimit.NewFair(ts, ratelimit.FairOptions{})
	var g grants
	var wg sync.WaitGroup
	ctx := context.Background()
	const busy, quiet = 1, 2
	for i := range 10 {
		queue(t, &wg, f, ts, &g, ctx, busy, fmt.Sprintf("busy%d", i))
	}
	queue(t, &wg, f, ts, &g, ctx, quiet, "quiet")
	if f.Queues() != 2 || f.Waiting() != 10 {
		t.Fatalf("%d queues, %d waiting; want 2 and 10 (busy0 holds the limiter)", f.Queues(), f.Waiting())
	}
	grant(t, ts, &g, 11)
	wg.Wait()
	// busy0 was waiting in the limiter when the quiet key came; the round
	// under way then serves busy1, and the quiet key's call ends it.
	want := []string{"busy0", "busy1", "quiet", "busy2", "busy3", "busy4", "busy5", "busy6", "busy7", "busy8", "busy9"}
	if got := g.snapshot(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("turns went to %v, want %v", got, want)
	}
	if f.Queues() != 0 || f.Waiting() != 0 {
		t.Errorf("%d queues, %d waiting after every call was served", f.Queues(), f.Waiting())
	}
}

func TestFairGoesRoundRobin(t *testing.T) {
	ts := newTurnstile()
	f := ratelimit.NewFair(ts, ratelimit.FairOptions{})
	var g grants
	var wg sync.WaitGroup
	ctx := context.Background()
	queue(t, &wg, f, ts, &g, ctx, 1, "a0") // the head
	for i := 1; i <= 3; i++ {
		queue(t, &wg, f, ts, &g, ctx, 1, fmt.Sprintf("a%d", i))
	}
	for i := range 3 {
		queue(t, &wg, f, ts, &g, ctx, 2, fmt.Sprintf("b%d", i))
	}
	queue(t, &wg, f, ts, &g, ctx, 3, "c0")
	grant(t, ts, &g, 8)
	wg.Wait()
	// Each round serves every key with calls waiting once; a key that
	// joins waits for the end of the round under way.
	want := []string{"a0", "a1", "b0", "c0", "a2", "b1", "a3", "b2"}
	if got := g.snapshot(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("turns went to %v, want %v", got, want)
	}
}

func TestFairWaitIsBoundedByTheDeadline(t *testing.T) {
	ts := newTurnstile()
	var limited atomic.Int64
	f := ratelimit.NewFair(ts, ratelimit.FairOptions{Hooks: ratelimit.Hooks{Limited: func(time.Duration) { limited.Add(1) }}})
	var g grants
	var wg sync.WaitGroup
	for i := range 4 {
		queue(t, &wg, f, ts, &g, context.Background(), 1, fmt.Sprintf("busy%d", i))
	}

	// Three busy calls queued at one turn a second, burst 1: another busy
	// call's turn is three seconds away at best, past a 2 s deadline, and
	// is refused at once; a quiet key's first call is next but one, and
	// queues.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := f.WaitKey(ctx, 1)
	var rl *ratelimit.Error
	if !errors.As(err, &rl) || rl.Wait != 3*time.Second {
		t.Fatalf("a busy call that cannot make it: %v, want an *Error with Wait 3s", err)
	}
	if ctx.Err() != nil {
		t.Error("refused only once its deadline had passed")
	}

	// A queued call whose deadline passes gets an *Error too, not its
	// context's error, and leaves its queue.
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	err = f.WaitKey(short, 2)
	if !errors.As(err, &rl) || short.Err() == nil || rl.Wait < time.Second {
		t.Errorf("a queued call past its deadline: %v (deadline passed: %v), want an *Error of at least a turn", err, short.Err() != nil)
	}
	if f.Queues() != 1 || f.Waiting() != 3 {
		t.Errorf("%d queues, %d waiting after the quiet key's only call left, want 1 and 3", f.Queues(), f.Waiting())
	}
	if limited.Load() != 2 {
		t.Errorf("Limited hook called %d times, want 2", limited.Load())
	}

	// A cancelled call gets its context's error.
	cctx, cancelNow := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.WaitKey(cctx, 3) }()
	eventually(t, "the cancelled call is queued", func() bool { return f.Waiting() == 4 })
	cancelNow()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	grant(t, ts, &g, 4)
	wg.Wait()
	if got := g.snapshot(); fmt.Sprint(got) != "[busy0 busy1 busy2 busy3]" {
		t.Errorf("turns went to %v", got)
	}
}

func TestFairBoundsItsQueues(t *testing.T) {
	ts := newTurnstile()
	f := ratelimit.NewFair(ts, ratelimit.FairOptions{MaxQueues: 3})
	var g grants
	var wg sync.WaitGroup
	ctx := context.Background()
	queue(t, &wg, f, ts, &g, ctx, 1, "head")
	for k := uint64(10); k < 20; k++ {
		queue(t, &wg, f, ts, &g, ctx, k, fmt.Sprint(k))
	}
	if f.Queues() != 3 || f.Waiting() != 10 {
		t.Errorf("%d queues, %d waiting; want 3 (two keys' and the overflow) and 10", f.Queues(), f.Waiting())
	}
	grant(t, ts, &g, 11)
	wg.Wait()
	if f.Queues() != 0 {
		t.Errorf("%d queues left", f.Queues())
	}
}

// BenchmarkFair measures what fairness costs a call over a limiter that
// always has a turn: the queue's lock when nobody waits, and the hand-off
// from one head to the next under contention.
func BenchmarkFair(b *testing.B) {
	l, err := ratelimit.NewLocal(1e9, 1<<20, ratelimit.Hooks{})
	if err != nil {
		b.Fatal(err)
	}
	f := ratelimit.NewFair(l, ratelimit.FairOptions{})
	ctx := context.Background()
	b.Run("local", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := l.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("fair", func(b *testing.B) {
		var next atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			key := next.Add(1) % 8
			for pb.Next() {
				if err := f.WaitKey(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
