package restclient_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// answerLog is one caller's WithAnswerReport, counted.
type answerLog struct {
	mu  sync.Mutex
	got map[restclient.Answer]int
}

func (l *answerLog) ctx(parent context.Context) context.Context {
	l.got = map[restclient.Answer]int{}
	return restclient.WithAnswerReport(parent, func(endpoint string, a restclient.Answer) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.got[a]++
	})
}

func (l *answerLog) counts() map[restclient.Answer]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[restclient.Answer]int{}
	for k, v := range l.got {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}

// TestEachCallerLearnsHowItsCallsWereAnswered: the caller whose request
// reached the upstream is told of its exchange, and one that joined it of
// the share, as the process-wide observers are.
func TestEachCallerLearnsHowItsCallsWereAnswered(t *testing.T) {
	t.Run("shared", func(t *testing.T) {
		r := newShareRig(t)
		release := r.fake.Hold()
		defer release()
		var a, b answerLog
		first := r.meetings(a.ctx(context.Background()), 7)
		r.inFlight(t, 1)
		then := r.meetings(b.ctx(context.Background()), 7)
		assert.Equal(t, restclient.EndpointUserMeetings, <-r.joined)
		release()
		require.NoError(t, (<-first).err)
		require.NoError(t, (<-then).err)
		assert.Equal(t, map[restclient.Answer]int{restclient.AnswerSent: 1}, a.counts())
		assert.Equal(t, map[restclient.Answer]int{restclient.AnswerShared: 1}, b.counts())
		assert.Equal(t, 1, r.fake.Calls())
	})
	t.Run("cached", func(t *testing.T) {
		up := fakeapi.NewServer()
		defer up.Close()
		now := time.Now()
		c := cachedClient(t, up, &now)
		var a, b answerLog
		_, err := c.UserMeetings(a.ctx(withCred(fakeapi.DefaultToken)), 7)
		require.NoError(t, err)
		_, err = c.UserMeetings(b.ctx(withCred(fakeapi.DefaultToken)), 7)
		require.NoError(t, err)
		assert.Equal(t, map[restclient.Answer]int{restclient.AnswerSent: 1}, a.counts())
		assert.Equal(t, map[restclient.Answer]int{restclient.AnswerCached: 1}, b.counts(), "a fresh answer from the cache is no exchange")
		assert.Equal(t, 1, up.Calls())
	})
	t.Run("retried", func(t *testing.T) {
		up := fakeapi.NewServer()
		defer up.Close()
		c, err := restclient.New(up.URL, restclient.WithCredentials(map[string][]string{"Authorization": {fakeapi.DefaultToken}}))
		require.NoError(t, err)
		restclient.SetRetrySleep(c, func(context.Context, time.Duration) error { return nil })
		up.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 503, Times: 1})
		var a answerLog
		_, err = c.UserMeetings(a.ctx(context.Background()), 7)
		require.NoError(t, err)
		assert.Equal(t, map[restclient.Answer]int{restclient.AnswerSent: 2}, a.counts(), "each attempt is an exchange")
		assert.Equal(t, 2, up.Calls())
	})
}
