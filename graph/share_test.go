package graph_test

import (
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
)

// sharedQuery needs one wave of upstream calls (two users' meetings and
// first thread pages, started together by the look-ahead) and walks the
// records in ways that would race on shared ones if the facade changed
// them: meetings sorted by a date, ascending, and each thread's meetings
// sorted too.
const sharedQuery = `{ users(ids: [7, 8]) {
	id
	meetings(first: 100, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount nodes { id status startDate } }
	threads(first: 20) { nodes { id name meetings { id } } }
} }`

// TestIdenticalOperationsShareUpstreamCalls runs the same operation twice
// at once while the fake holds the first one's calls: the second one's calls
// join them, so the upstream sees the calls of one operation, and both get
// the whole answer. Run with -race, it also proves that the resolvers do
// not write to the records the two share.
func TestIdenticalOperationsShareUpstreamCalls(t *testing.T) {
	var joined atomic.Int64
	e := newEnv(t, withClient(restclient.WithShareObserver(func(string) { joined.Add(1) })),
		// Else the second request would not execute at all (opshare_test.go).
		withGraph(func(o *graph.Options) { o.DisableOperationSharing = true }))

	alone := e.do(sharedQuery, nil, nil)
	require.Empty(t, alone.Errors)
	oneOperation := e.upstream.Calls()
	require.Equal(t, 4, oneOperation, "two users' meetings and first thread pages")
	assertSharedAnswer(t, e, alone.Data)
	require.Zero(t, joined.Load())
	e.upstream.Reset()

	release := e.upstream.Hold()
	defer release()
	var wg sync.WaitGroup
	answers := make([]*gqlResponse, 2)
	wg.Go(func() { answers[0] = e.do(sharedQuery, nil, nil) })
	require.Eventually(t, func() bool { return e.upstream.Calls() == oneOperation }, 5*time.Second, time.Millisecond)
	wg.Go(func() { answers[1] = e.do(sharedQuery, nil, nil) })
	require.Eventually(t, func() bool { return joined.Load() == int64(oneOperation) }, 5*time.Second, time.Millisecond,
		"every call of the second operation joined the first's")
	release()
	wg.Wait()

	assert.Equal(t, oneOperation, e.upstream.Calls())
	for _, a := range answers {
		require.Empty(t, a.Errors)
		assert.JSONEq(t, string(alone.Data), string(a.Data))
	}
}

// assertSharedAnswer checks an answer to sharedQuery against the dataset:
// each user's meetings and first page of threads, by id.
func assertSharedAnswer(t *testing.T, e *env, data json.RawMessage) {
	t.Helper()
	var got struct {
		Users []struct {
			ID       string
			Meetings struct {
				TotalCount int
				Nodes      []struct{ ID string }
			}
			Threads struct {
				Nodes []struct{ ID string }
			}
		}
	}
	require.NoError(t, json.Unmarshal(data, &got))
	require.Len(t, got.Users, 2)
	for i, id := range []int64{7, 8} {
		u, ok := e.data.User(id)
		require.True(t, ok)
		var wantMeetings, gotMeetings, wantThreads, gotThreads []string
		for _, m := range u.Meetings {
			wantMeetings = append(wantMeetings, strconv.FormatInt(m.ID, 10))
		}
		for _, th := range u.Threads[:min(20, len(u.Threads))] {
			wantThreads = append(wantThreads, th.ID)
		}
		for _, m := range got.Users[i].Meetings.Nodes {
			gotMeetings = append(gotMeetings, m.ID)
		}
		for _, th := range got.Users[i].Threads.Nodes {
			gotThreads = append(gotThreads, th.ID)
		}
		assert.Equal(t, len(u.Meetings), got.Users[i].Meetings.TotalCount)
		assert.ElementsMatch(t, wantMeetings, gotMeetings)
		assert.Equal(t, wantThreads, gotThreads)
	}
}
