package graph_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// TestNodeLooksAhead: Query.node starts its own lookup and every load its
// subtree needs at once, for the owner its id names, as user and users do.
// The gate holds each answer until both calls are in flight together, which
// they could not be if the subtree's call started only once the node was
// found; and the counters show no call was added for it.
func TestNodeLooksAhead(t *testing.T) {
	// One threads page per user, so that every lookup is answered by page 1.
	opts := []envOption{withFake(fakeapi.WithCleanData(), fakeapi.WithThreadsPerUser(15), fakeapi.WithPerPage(20))}
	const owner = 3
	data := newEnv(t, opts...).data
	u := user(t, data, owner)
	var (
		meeting fakeapi.Meeting
		thread  fakeapi.Thread
	)
	for _, m := range u.Meetings {
		if i := slices.IndexFunc(u.Threads, func(th fakeapi.Thread) bool { return th.ID == m.ThreadID }); i >= 0 {
			meeting, thread = m, u.Threads[i]
			break
		}
	}
	require.NotZero(t, meeting.ID, "user %d has a meeting in one of its threads", owner)
	var threadMeetings []string
	for _, m := range newestFirst(u.Meetings) {
		if m.ThreadID == thread.ID {
			threadMeetings = append(threadMeetings, itoa(m.ID))
		}
	}
	meetingID := model.EncodeGlobalID("Meeting", itoa(owner)+":"+itoa(meeting.ID))
	threadID := model.EncodeGlobalID("Thread", itoa(owner)+":"+thread.ID)
	userID := model.EncodeGlobalID("User", itoa(owner))

	for _, c := range []struct {
		name, query, id, want string
	}{
		{
			name:  "a meeting's thread",
			query: `query($id: ID!) { node(id: $id) { ... on Meeting { id thread { name } } } }`,
			id:    meetingID,
			want:  mustJSON(t, map[string]any{"node": map[string]any{"id": itoa(meeting.ID), "thread": map[string]any{"name": thread.Name}}}),
		},
		{
			name:  "a thread's meetings",
			query: `query($id: ID!) { node(id: $id) { ... on Thread { name meetings { id } } } }`,
			id:    threadID,
			want:  mustJSON(t, map[string]any{"node": map[string]any{"name": thread.Name, "meetings": idObjects(threadMeetings)}}),
		},
		{
			name:  "a user's lists",
			query: `query($id: ID!) { node(id: $id) { ... on User { meetings { totalCount } threads { totalCount } } } }`,
			id:    userID,
			want:  mustJSON(t, map[string]any{"node": map[string]any{"meetings": map[string]any{"totalCount": len(u.Meetings)}, "threads": map[string]any{"totalCount": len(u.Threads)}}}),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, opts...)
			gate := e.upstream.Gate(2)
			var (
				wg  sync.WaitGroup
				res *gqlResponse
			)
			wg.Go(func() { res = e.do(c.query, map[string]any{"id": c.id}, nil) })
			assert.True(t, gate.Wait(10*time.Second), "the node's lookup and its subtree's load left together (%d arrived)", gate.Arrived())
			wg.Wait()
			require.Empty(t, res.Errors)
			assert.JSONEq(t, c.want, string(res.Data))
			assert.Equal(t, 1, e.upstream.CallsTo("/api/v1/users/3/meetings"))
			assert.Equal(t, 1, e.upstream.CallsTo("/api/v1/users/3/threads"))
			assert.Equal(t, 2, e.upstream.Calls())
		})
	}

	// The subtree is read as a selection on the id's own type: fragments on
	// the other types never run, so they start nothing.
	t.Run("other types' fragments", func(t *testing.T) {
		e := newEnv(t, opts...)
		res := e.do(`query($id: ID!) { node(id: $id) { ... on Meeting { id } ... on User { threads { totalCount } } ... on Thread { meetings { id } } } }`,
			map[string]any{"id": meetingID}, nil)
		require.Empty(t, res.Errors)
		assert.JSONEq(t, mustJSON(t, map[string]any{"node": map[string]any{"id": itoa(meeting.ID)}}), string(res.Data))
		assert.Equal(t, 1, e.upstream.CallsTo("/api/v1/users/3/meetings"))
		assert.Equal(t, 1, e.upstream.Calls(), "no threads call")
	})
}

func idObjects(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"id": id}
	}
	return out
}
