package graph

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient"
)

// heldUpstream answers each user's meetings with one meeting whose id is
// the user's, holds the calls of the users in held until their channel is
// closed, and panics for the users in bad, as a bug in decoding would.
type heldUpstream struct {
	held map[int64]chan struct{}
	bad  map[int64]bool

	mu    sync.Mutex
	calls map[int64]int
}

func (u *heldUpstream) UserList(ctx context.Context, list restclient.AnyList, user int64, page int) (restclient.Records, error) {
	if list != restclient.Meetings {
		return nil, errors.New("not used")
	}
	u.mu.Lock()
	u.calls[user]++
	u.mu.Unlock()
	if ch, ok := u.held[user]; ok {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if u.bad[user] {
		panic("bad record")
	}
	return &restclient.Page[restclient.Meeting]{List: []restclient.Meeting{{ID: strconv.FormatInt(user, 10)}}}, nil
}

// TestABatchDeliversEachKeyOnItsOwn drives the loaders directly, with the
// batch hook observed: three keys in one batch, one held, one panicking.
// The others' results arrive while the held call runs; the batch is done,
// for the hook, only when that call ends too; and each key was called
// once, asked again or not.
func TestABatchDeliversEachKeyOnItsOwn(t *testing.T) {
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // so that a failed test strands nothing
	up := &heldUpstream{held: map[int64]chan struct{}{2: release}, bad: map[int64]bool{3: true}, calls: map[int64]int{}}
	var (
		mu      sync.Mutex
		sizes   []int
		batched = make(chan struct{})
	)
	cfg := &loaderConfig{
		up: up, perRequest: 10, maxPages: 5,
		// Long enough that the three loads below surely share a batch; the
		// batch leaves when it ends.
		wait: 50 * time.Millisecond,
		onBatch: func(ctx context.Context, loader string, n int) (context.Context, func()) {
			mu.Lock()
			sizes = append(sizes, n)
			mu.Unlock()
			return ctx, func() { close(batched) }
		},
	}
	l := newLoaders(cfg)
	ctx := context.Background()
	for _, u := range []int64{1, 2, 3} {
		meetingsList.prefetch(ctx, l, u)
	}

	// Guarded: on a loader that answers a batch at once, this waits for
	// the held call, which only the test releases.
	meetings := loadsOf(l, meetingsList)
	var m1 *listPage[model.Meeting]
	loaded := make(chan error, 1)
	go func() {
		var err error
		m1, err = meetings.whole(ctx, 1)
		loaded <- err
	}()
	var err error
	select {
	case err = <-loaded:
	case <-time.After(10 * time.Second):
		t.Fatal("user 1's meetings waited for user 2's held call")
	}
	require.NoError(t, err)
	require.Len(t, m1.nodes, 1)
	assert.Equal(t, "1", m1.nodes[0].ID)
	_, err = meetings.whole(ctx, 3)
	var pe *panicError
	assert.ErrorAs(t, err, &pe, "a panic is its key's error")
	mu.Lock()
	assert.Equal(t, []int{3}, sizes, "one batch of three keys")
	mu.Unlock()
	select {
	case <-batched:
		t.Fatal("the batch was done while one of its calls was held")
	default:
	}

	releaseOnce()
	m2, err := meetings.whole(ctx, 2)
	require.NoError(t, err)
	require.Len(t, m2.nodes, 1)
	assert.Equal(t, "2", m2.nodes[0].ID)
	select {
	case <-batched:
	case <-time.After(10 * time.Second):
		t.Fatal("the batch was never done")
	}

	_, err = meetings.whole(ctx, 1)
	require.NoError(t, err)
	up.mu.Lock()
	assert.Equal(t, map[int64]int{1: 1, 2: 1, 3: 1}, up.calls, "one call per key, asked again or not")
	up.mu.Unlock()
	assert.EqualValues(t, 3, l.guard.calls.Load(), "every call went through the budget")
}
