package restclient

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// granted reports whether a waiter's reservation came through, without
// waiting for it.
func granted(ch <-chan error) (error, bool) {
	select {
	case err := <-ch:
		return err, true
	default:
		return nil, false
	}
}

// waitFor waits until n waiters are queued: acquire gives no other sign
// that it has queued.
func waitFor(t *testing.T, b *bodyBudget, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.waiters) == n
	}, 10*time.Second, time.Millisecond, "%d waiters", n)
}

func acquireAsync(b *bodyBudget, ctx context.Context, n int64) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- b.acquire(ctx, n) }()
	return ch
}

func TestBodyBudgetQueueIsFIFOAndGrowthGoesFirst(t *testing.T) {
	const kb = 1 << 10
	b := newBodyBudget(1000 * kb)
	require.NoError(t, b.acquire(context.Background(), 600*kb))
	big := acquireAsync(b, context.Background(), 500*kb)
	waitFor(t, b, 1)
	medium := acquireAsync(b, context.Background(), 100*kb)
	waitFor(t, b, 2)
	_, ok := granted(medium)
	require.False(t, ok, "a reservation overtook a larger one queued before it, though both are over a first block")

	// A first block takes free room at once, queue or not.
	require.NoError(t, b.acquire(context.Background(), firstBodyBlock))
	// So does a growing body.
	require.True(t, b.grow(300*kb), "a growing body is refused room that is free, because others wait")
	require.False(t, b.grow(100*kb), "grow went over the size")

	b.release(600*kb + 300*kb + firstBodyBlock) // nothing in use: both waiters fit, in order
	require.NoError(t, <-big)
	require.NoError(t, <-medium)
	waitFor(t, b, 0)
	assert.Equal(t, int64(600*kb), b.used)
	assert.Equal(t, int64(900*kb+firstBodyBlock), b.peak)
}

func TestBodyBudgetFirstBlocksPassABlockedHead(t *testing.T) {
	const block = firstBodyBlock
	b := newBodyBudget(100 * block)
	require.NoError(t, b.acquire(context.Background(), 100*block)) // full
	big := acquireAsync(b, context.Background(), 50*block)
	waitFor(t, b, 1)
	small := acquireAsync(b, context.Background(), block)
	waitFor(t, b, 2)
	medium := acquireAsync(b, context.Background(), 5*block)
	waitFor(t, b, 3)

	b.release(10 * block) // room for the small and the medium one, not the big one
	require.NoError(t, <-small, "a first block passes the blocked head")
	waitFor(t, b, 2)
	_, ok := granted(medium)
	assert.False(t, ok, "more than a first block waits its turn")
	_, ok = granted(big)
	assert.False(t, ok)
	assert.Equal(t, int64(91*block), b.used)
}

func TestBodyBudgetCancelledWaiterLetsTheNextIn(t *testing.T) {
	b := newBodyBudget(100 * firstBodyBlock)
	require.NoError(t, b.acquire(context.Background(), 60*firstBodyBlock))
	ctx, cancel := context.WithCancel(context.Background())
	big := acquireAsync(b, ctx, 50*firstBodyBlock)
	waitFor(t, b, 1)
	next := acquireAsync(b, context.Background(), 30*firstBodyBlock)
	waitFor(t, b, 2)
	cancel()
	assert.Equal(t, context.Canceled, <-big)
	require.NoError(t, <-next, "the waiter behind a cancelled one was let in")
	assert.Equal(t, int64(90*firstBodyBlock), b.used)
	assert.Empty(t, b.waiters)
}
