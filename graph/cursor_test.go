package graph_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
)

var testCursorSecret = []byte("cursor-secret-for-tests-32-bytes")

const (
	threadsAfter  = `query($id: ID!, $after: String, $first: Int) { user(id: $id) { threads(first: $first, after: $after) { totalCount pageInfo { endCursor } nodes { id } } } }`
	meetingsAfter = `query($id: ID!, $after: String, $first: Int) { user(id: $id) { meetings(first: $first, after: $after) { totalCount pageInfo { endCursor } nodes { id } } } }`
)

type pageJSON struct {
	TotalCount int
	PageInfo   struct{ EndCursor string }
	Nodes      []struct{ ID string }
}

// endCursors returns the endCursor of user's first threads and meetings.
func (e *env) endCursors(user string, first int) (threads, meetings string) {
	e.t.Helper()
	var got struct {
		User struct{ Threads, Meetings pageJSON }
	}
	e.ok(`query($id: ID!, $first: Int) { user(id: $id) { threads(first: $first) { pageInfo { endCursor } } meetings(first: $first) { pageInfo { endCursor } } } }`,
		map[string]any{"id": user, "first": first}, &got)
	require.NotEmpty(e.t, got.User.Threads.PageInfo.EndCursor)
	require.NotEmpty(e.t, got.User.Meetings.PageInfo.EndCursor)
	return got.User.Threads.PageInfo.EndCursor, got.User.Meetings.PageInfo.EndCursor
}

// refusedWithoutCalls asserts that a request was refused as BAD_USER_INPUT
// naming after, and made no upstream call.
func refusedWithoutCalls(t *testing.T, e *env, res *gqlResponse) {
	t.Helper()
	require.NotEmpty(t, res.Errors, "the cursor was accepted: %s", res.Data)
	assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code(), "%+v", res.Errors)
	assert.True(t, strings.HasPrefix(res.Errors[0].Message, "after "), "the message names the argument: %q", res.Errors[0].Message)
	assert.Zero(t, e.upstream.Calls(), "upstream calls for a refused cursor")
}

func TestForgedCursorsAreRefusedBeforeAnyUpstreamCall(t *testing.T) {
	e := newEnv(t, withGraph(func(o *graph.Options) { o.CursorSecret = testCursorSecret }))
	threads1, meetings1 := e.endCursors("1", 5)
	other := graph.SignThreadCursor([]byte("another-replica-another-secret!!"), 1, 4, 20, 45)
	b64 := base64.RawURLEncoding.EncodeToString
	raw, err := base64.RawURLEncoding.DecodeString(threads1)
	require.NoError(t, err)
	raw[2] ^= 1 // the position, not the tag
	tampered := b64(raw)

	cases := []struct {
		name, query, user, after string
	}{
		// The format before cursors were authenticated: 100 calls for pages 2-101.
		{"old format, page size 1", threadsAfter, "1", b64([]byte("thread:1:600:0"))},
		// ?page=100000000.
		{"old format, far page", threadsAfter, "1", b64([]byte("thread:20:2000000000:1999999990"))},
		{"old meetings format", meetingsAfter, "1", b64([]byte("meeting:3"))},
		{"tampered", threadsAfter, "1", tampered},
		{"truncated", threadsAfter, "1", threads1[:len(threads1)-2]},
		{"padded", threadsAfter, "1", threads1 + "=="},
		{"signed with another key", threadsAfter, "1", other},
		{"too long", threadsAfter, "1", strings.Repeat("A", 200)},
		{"empty", threadsAfter, "1", ""},
		{"another user's threads cursor", threadsAfter, "2", threads1},
		{"another user's meetings cursor", meetingsAfter, "2", meetings1},
		{"a meetings cursor given to threads", threadsAfter, "1", meetings1},
		{"a threads cursor given to meetings", meetingsAfter, "1", threads1},
		// Authentic, but not what the facade issues: defence in depth
		// should the key leak.
		{"index past the total", threadsAfter, "1", graph.SignThreadCursor(testCursorSecret, 1, 45, 20, 45)},
		{"page past the pages followed", threadsAfter, "1", graph.SignThreadCursor(testCursorSecret, 1, 500*20, 20, 2000000000)},
		{"page size 0", threadsAfter, "1", graph.SignThreadCursor(testCursorSecret, 1, 0, 0, 45)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.upstream.Reset()
			res := e.do(c.query, map[string]any{"id": c.user, "first": 100, "after": c.after}, nil)
			refusedWithoutCalls(t, e, res)
			field := "threads"
			if c.query == meetingsAfter {
				field = "meetings"
			}
			assert.Equal(t, []any{"user", field}, res.Errors[0].Path)
		})
	}

	t.Run("several users, one cursor", func(t *testing.T) {
		e.upstream.Reset()
		res := e.do(`query($after: String) { users(ids: ["1", "2"]) { meetings { totalCount } threads(after: $after) { totalCount } } }`,
			map[string]any{"after": threads1}, nil)
		refusedWithoutCalls(t, e, res)
	})

	// Below Meeting.user the user is known only once the meeting is: the
	// resolver refuses the cursor, and no threads call is made.
	t.Run("another user's cursor below Meeting.user", func(t *testing.T) {
		threads2, _ := e.endCursors("2", 5)
		e.upstream.Reset()
		res := e.do(`query($after: String) { user(id: "1") { meetings(first: 1) { nodes { user { id threads(after: $after) { totalCount } } } } } }`,
			map[string]any{"after": threads2}, nil)
		require.Len(t, res.Errors, 1, "%s", res.Data)
		assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
		assert.Equal(t, "after is a cursor of another user's threads", res.Errors[0].Message)
		assert.Equal(t, []any{"user", "meetings", "nodes", float64(0), "user", "threads"}, res.Errors[0].Path)
		assert.Zero(t, e.upstream.CallsTo("/api/v1/users/*/threads"))
	})
}

func TestAuthenticCursorsPageAsBefore(t *testing.T) {
	e := newEnv(t, withGraph(func(o *graph.Options) { o.CursorSecret = testCursorSecret }))
	d := user(t, e.data, 3)
	threads, meetings := e.endCursors("3", 5)

	// A cursor is short, opaque and URL-safe.
	for _, c := range []string{threads, meetings} {
		assert.Less(t, len(c), 40, c)
		assert.NotContains(t, c, "thread")
		_, err := base64.RawURLEncoding.Strict().DecodeString(c)
		assert.NoError(t, err)
	}

	var got struct{ User struct{ Threads pageJSON } }
	e.upstream.Reset()
	e.ok(threadsAfter, map[string]any{"id": "3", "first": 10, "after": threads}, &got)
	require.Len(t, got.User.Threads.Nodes, 10)
	for i, n := range got.User.Threads.Nodes {
		assert.Equal(t, d.Threads[5+i].ID, n.ID)
	}
	assert.Equal(t, []string{"1"}, threadPagesRequested(e.upstream, 3), "threads 6-15 are on page 1")

	// An authentic cursor the facade did not issue is honoured like one it
	// did: the key, not the issuing process, is what is trusted.
	e.upstream.Reset()
	e.ok(threadsAfter, map[string]any{"id": "3", "first": 3, "after": graph.SignThreadCursor(testCursorSecret, 3, 29, 20, 45)}, &got)
	require.Len(t, got.User.Threads.Nodes, 3)
	assert.Equal(t, d.Threads[30].ID, got.User.Threads.Nodes[0].ID)
	assert.Equal(t, []string{"2"}, threadPagesRequested(e.upstream, 3))

	var ms struct{ User struct{ Meetings pageJSON } }
	e.ok(meetingsAfter, map[string]any{"id": "3", "first": 100, "after": meetings}, &ms)
	want := newestFirst(d.Meetings)
	require.Len(t, ms.User.Meetings.Nodes, len(want)-5)
	for i, n := range ms.User.Meetings.Nodes {
		assert.Equal(t, itoa(want[5+i].ID), n.ID)
	}
}

// Replicas that share CursorSecret accept each other's cursors; replicas
// that do not refuse them.
func TestCursorsAcrossReplicas(t *testing.T) {
	secret := func(s []byte) envOption { return withGraph(func(o *graph.Options) { o.CursorSecret = s }) }
	a := newEnv(t, secret(testCursorSecret))
	b := newEnv(t, secret(testCursorSecret))
	c := newEnv(t, secret([]byte("another-replica-another-secret!!")))
	threads, meetings := a.endCursors("4", 20)

	var got struct{ User struct{ Threads pageJSON } }
	b.ok(threadsAfter, map[string]any{"id": "4", "first": 5, "after": threads}, &got)
	require.Len(t, got.User.Threads.Nodes, 5)
	assert.Equal(t, user(t, b.data, 4).Threads[20].ID, got.User.Threads.Nodes[0].ID)

	for _, q := range []struct{ query, after string }{{threadsAfter, threads}, {meetingsAfter, meetings}} {
		c.upstream.Reset()
		refusedWithoutCalls(t, c, c.do(q.query, map[string]any{"id": "4", "after": q.after}, nil))
	}
}

func TestCursorSecretIsValidated(t *testing.T) {
	err := graph.Options{CursorSecret: []byte("short")}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CursorSecret must be at least 32 bytes, got 5")
	assert.NoError(t, graph.Options{CursorSecret: testCursorSecret}.Validate())
}
