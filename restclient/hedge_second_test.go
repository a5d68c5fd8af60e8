package restclient_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/salesgraph/salesgraph/restclient"
)

// Second hedges: the timers after which hedges are due are the test's
// (restclient.SetHedgeTimer), so that a hedge is due when the test says,
// and the number of hedges armed is a count, not a race with the clock.

// manualTimers makes r's hedges due only when the test fires them: each
// hedge armed arrives on the channel returned.
func (r *hedgeRig) manualTimers() <-chan func() {
	due := make(chan func(), 10)
	restclient.SetHedgeTimer(r.client, func(_ time.Duration, hedge func()) func() bool {
		var mu sync.Mutex
		stopped := false
		due <- func() {
			mu.Lock()
			s := stopped
			mu.Unlock()
			if !s {
				hedge()
			}
		}
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			was := !stopped
			stopped = true
			return was
		}
	})
	return due
}

type callResult struct {
	ids []string
	err error
}

func (r *hedgeRig) callUser7(ctx context.Context) <-chan callResult {
	out := make(chan callResult, 1)
	go func() {
		ms, err := r.client.UserMeetings(ctx, 7)
		out <- callResult{meetingIDs(ms), err}
	}()
	return out
}

func hedgePolicy2(p restclient.HedgePolicy) restclient.Option {
	p.MinDelay, p.MaxDelay = time.Millisecond, time.Millisecond
	return restclient.WithHedging(p)
}

// TestSecondHedgeWinsOverTwoHeldRequests: the attempt and the first hedge
// are both held, the second hedge is armed once the first is sent, its
// answer is the call's, both losers are cancelled, every hedge is counted
// once, and no goroutine is left behind.
func TestSecondHedgeWinsOverTwoHeldRequests(t *testing.T) {
	r := newHedgeRig(t, time.Millisecond, hedgePolicy2(restclient.HedgePolicy{MaxHedges: 2}))
	due := r.manualTimers()
	r.holdAttempts(false)
	r.tr.mu.Lock()
	r.tr.holdHedge = 1
	r.tr.mu.Unlock()
	ignore := goleak.IgnoreCurrent()

	var mu sync.Mutex
	answers := map[restclient.Answer]int{}
	ctx := restclient.WithAnswerReport(context.Background(), func(_ string, a restclient.Answer) {
		mu.Lock()
		answers[a]++
		mu.Unlock()
	})
	res := r.callUser7(ctx)
	var fired sync.WaitGroup
	fire := func(f func()) { fired.Add(1); go func() { defer fired.Done(); f() }() }
	fire(<-due) // the first hedge: sent, and held
	fire(<-due) // armed once the first was sent: sent, and answered
	got := <-res
	require.NoError(t, got.err)
	assert.Equal(t, user7Meetings(t), got.ids, "the second hedge's answer is the dataset's")
	fired.Wait()

	attempts, hedges, sent := r.tr.requests()
	assert.Equal(t, [2]int{1, 2}, [2]int{attempts, hedges})
	require.Len(t, sent, 3)
	assert.Equal(t, sent[0].header, sent[2].header, "the second hedge is the attempt's twin too")
	assert.Equal(t, 1, r.fake.Calls(), "only the second hedge reached the upstream")
	r.tr.mu.Lock()
	assert.Equal(t, 2, r.tr.cancelled, "the attempt and the first hedge were cancelled")
	r.tr.mu.Unlock()
	assert.Equal(t, map[restclient.HedgeResult]int{restclient.HedgeSent: 2, restclient.HedgeWon: 1}, r.hedgeEvents())
	mu.Lock()
	assert.Equal(t, map[restclient.Answer]int{restclient.AnswerSent: 3, restclient.AnswerHedged: 2}, answers)
	mu.Unlock()
	assert.Empty(t, due, "no third hedge is armed")

	r.client.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}

// TestMaxHedgesOneArmsNoSecondHedge: with MaxHedges 1, the first hedge's
// sending arms nothing, and the call is answered by whichever held
// request is let go.
func TestMaxHedgesOneArmsNoSecondHedge(t *testing.T) {
	r := newHedgeRig(t, time.Millisecond, hedgePolicy2(restclient.HedgePolicy{MaxHedges: 1}))
	due := r.manualTimers()
	r.holdAttempts(false)
	r.tr.mu.Lock()
	r.tr.holdHedge = 1
	r.tr.mu.Unlock()

	res := r.callUser7(context.Background())
	hedge := <-due
	go hedge()
	require.Eventually(t, func() bool { return r.hedgeEvents()[restclient.HedgeSent] == 1 }, 10*time.Second, time.Millisecond)
	assert.Empty(t, due, "the first hedge is sent and no second is armed")
	r.tr.let <- struct{}{}
	got := <-res
	require.NoError(t, got.err)
	assert.Equal(t, user7Meetings(t), got.ids)
	assert.Empty(t, due)
	_, hedges, _ := r.tr.requests()
	assert.Equal(t, 1, hedges)
	assert.Equal(t, 1, r.fake.Calls())
}

// TestSecondHedgeRefusedByTheBudget: a budget of one hedge sends the
// first and refuses the second, which is reported; the call is answered
// once a held request is let go (the rig lets one go on a refusal).
func TestSecondHedgeRefusedByTheBudget(t *testing.T) {
	r := newHedgeRig(t, time.Millisecond, hedgePolicy2(restclient.HedgePolicy{MaxHedges: 2, Budget: 0.01, MinHedges: 1}))
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	restclient.SetClock(r.client, func() time.Time { return frozen }) // one budget window
	due := r.manualTimers()
	r.holdAttempts(false)
	r.tr.mu.Lock()
	r.tr.holdHedge = 1
	r.tr.mu.Unlock()

	res := r.callUser7(context.Background())
	first := <-due
	go first()
	second := <-due // armed once the first was sent
	second()        // refused: the budget had one hedge
	got := <-res
	require.NoError(t, got.err)
	assert.Equal(t, user7Meetings(t), got.ids)

	ev := r.hedgeEvents()
	assert.Equal(t, 1, ev[restclient.HedgeSent])
	assert.Equal(t, 1, ev[restclient.HedgeRefusedBudget])
	attempts, hedges, _ := r.tr.requests()
	assert.Equal(t, [2]int{1, 1}, [2]int{attempts, hedges}, "the refused hedge was not sent")
	assert.Equal(t, 1, r.fake.Calls(), "the request let go; the other was cancelled")
	require.Eventually(t, func() bool {
		r.tr.mu.Lock()
		defer r.tr.mu.Unlock()
		return r.tr.cancelled == 1
	}, 10*time.Second, time.Millisecond, "the loser is cancelled")
	assert.Empty(t, due)
}

// TestHedgePolicyMaxHedges: MaxHedges defaults to 2 and is from 1 to 4.
func TestHedgePolicyMaxHedges(t *testing.T) {
	assert.Equal(t, 2, restclient.DefaultHedgePolicy().MaxHedges)
	for _, n := range []int{-1, 5} {
		_, err := restclient.New("http://example.com", restclient.WithHedging(restclient.HedgePolicy{MaxHedges: n}))
		require.Error(t, err, "MaxHedges %d", n)
		assert.Contains(t, err.Error(), "MaxHedges")
	}
	_, err := restclient.New("http://example.com", restclient.WithHedging(restclient.HedgePolicy{MaxHedges: 4}))
	assert.NoError(t, err)
}
