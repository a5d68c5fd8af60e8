package graph_test

import (
	"cmp"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

const (
	threadsBack = `query($id: ID!, $last: Int, $before: String, $first: Int, $after: String) {
  user(id: $id) { threads(last: $last, before: $before, first: $first, after: $after) {
    totalCount pageInfo { hasPreviousPage hasNextPage startCursor endCursor } nodes { id } edges { cursor } } } }`
	meetingsBack = `query($id: ID!, $last: Int, $before: String, $first: Int, $after: String) {
  user(id: $id) { meetings(last: $last, before: $before, first: $first, after: $after) {
    totalCount pageInfo { hasPreviousPage hasNextPage startCursor endCursor } nodes { id } } } }`
)

type twoWayPage struct {
	TotalCount int
	PageInfo   struct {
		HasPreviousPage, HasNextPage bool
		StartCursor, EndCursor       string
	}
	Nodes []struct{ ID string }
	Edges []struct{ Cursor string }
}

func (p twoWayPage) ids() []string {
	out := make([]string, len(p.Nodes))
	for i, n := range p.Nodes {
		out[i] = n.ID
	}
	return out
}

func threadIDs(ts []fakeapi.Thread) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// TestThreadsPageBackwardsWithTheFewestPages: 47 threads on pages of 20
// (pages 1-20, 21-40, 41-47). last without before needs page 1 (which
// tells the total) and the pages holding the window; a before cursor
// knows its page and needs no page 1.
func TestThreadsPageBackwardsWithTheFewestPages(t *testing.T) {
	e := newEnv(t, withFake(fakeapi.WithCleanData(), fakeapi.WithThreadsPerUser(47), fakeapi.WithPerPage(20)))
	const uid = 3
	all := threadIDs(user(t, e.data, uid).Threads)
	require.Len(t, all, 47)
	page := func(vars map[string]any) twoWayPage {
		t.Helper()
		vars["id"] = itoa(uid)
		var got struct{ User struct{ Threads twoWayPage } }
		e.upstream.Reset()
		e.ok(threadsBack, vars, &got)
		return got.User.Threads
	}

	cases := []struct {
		name       string
		vars       map[string]any
		want       []string
		pages      []string // upstream pages fetched
		prev, next bool
	}{
		{"the last 3 are on the last page", map[string]any{"last": 3}, all[44:], []string{"1", "3"}, true, false},
		{"the last 10 span the last two pages", map[string]any{"last": 10}, all[37:], []string{"1", "2", "3"}, true, false},
		{"all of a short list is page 1", map[string]any{"last": 100}, all, []string{"1", "2", "3"}, false, false},
		{"last 0 is the total alone", map[string]any{"last": 0}, []string{}, []string{"1"}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := page(c.vars)
			assert.Equal(t, c.want, got.ids())
			assert.Equal(t, 47, got.TotalCount)
			assert.Equal(t, c.prev, got.PageInfo.HasPreviousPage, "hasPreviousPage")
			assert.Equal(t, c.next, got.PageInfo.HasNextPage, "hasNextPage")
			assert.Equal(t, c.pages, threadPagesRequested(e.upstream, uid))
		})
	}

	t.Run("before a cursor, only the pages that hold the window", func(t *testing.T) {
		last := page(map[string]any{"last": 10}) // threads 37-46
		got := page(map[string]any{"last": 20, "before": last.PageInfo.StartCursor})
		assert.Equal(t, all[17:37], got.ids())
		assert.True(t, got.PageInfo.HasPreviousPage)
		assert.True(t, got.PageInfo.HasNextPage)
		assert.Equal(t, []string{"1", "2"}, threadPagesRequested(e.upstream, uid), "17-19 on page 1, 20-36 on page 2")

		got = page(map[string]any{"last": 5, "before": last.Edges[3].Cursor}) // before thread 40
		assert.Equal(t, all[35:40], got.ids())
		assert.Equal(t, []string{"2"}, threadPagesRequested(e.upstream, uid), "no page 1: the cursor knows its page")
	})

	t.Run("paging backwards to the start visits every thread once", func(t *testing.T) {
		var seen []string
		vars := map[string]any{"last": 15}
		for range 10 {
			got := page(vars)
			seen = append(got.ids(), seen...)
			if !got.PageInfo.HasPreviousPage {
				break
			}
			vars = map[string]any{"last": 15, "before": got.PageInfo.StartCursor}
		}
		assert.Equal(t, all, seen)
	})

	t.Run("between two cursors", func(t *testing.T) {
		first := page(map[string]any{"first": 30})
		got := page(map[string]any{"after": first.Edges[4].Cursor, "before": first.Edges[25].Cursor, "first": 100})
		assert.Equal(t, all[5:25], got.ids())
		got = page(map[string]any{"after": first.Edges[4].Cursor, "before": first.Edges[25].Cursor, "last": 3})
		assert.Equal(t, all[22:25], got.ids())
		assert.Equal(t, []string{"2"}, threadPagesRequested(e.upstream, uid))
	})
}

// TestMeetingsPageBackwards: the list answered whole pages backwards in the
// facade, in the field's order, over its one call.
func TestMeetingsPageBackwards(t *testing.T) {
	e := newEnv(t)
	const uid = 4
	var want []string
	for _, m := range newestFirst(user(t, e.data, uid).Meetings) {
		want = append(want, itoa(m.ID))
	}
	require.Greater(t, len(want), 8)
	var got struct{ User struct{ Meetings twoWayPage } }
	e.upstream.Reset()
	e.ok(meetingsBack, map[string]any{"id": itoa(uid), "last": 5}, &got)
	m := got.User.Meetings
	assert.Equal(t, want[len(want)-5:], m.ids())
	assert.True(t, m.PageInfo.HasPreviousPage)
	assert.False(t, m.PageInfo.HasNextPage)
	assert.Equal(t, 1, e.upstream.Calls())

	e.ok(meetingsBack, map[string]any{"id": itoa(uid), "last": 3, "before": m.PageInfo.StartCursor}, &got)
	assert.Equal(t, want[len(want)-8:len(want)-5], got.User.Meetings.ids())
	assert.True(t, got.User.Meetings.PageInfo.HasNextPage)
}

// TestBadPagingIsRefusedBeforeAnyCall: the combinations the Relay rules
// leave out, and sizes out of bounds, are BAD_USER_INPUT naming the
// argument, before any upstream call.
func TestBadPagingIsRefusedBeforeAnyCall(t *testing.T) {
	e := newEnv(t, withGraph(func(o *graph.Options) { o.CursorSecret = testCursorSecret }))
	threads1, meetings1 := e.endCursors("1", 5)
	threads2, _ := e.endCursors("2", 5)
	cases := []struct {
		name, field string
		vars        map[string]any
		message     string
	}{
		{"first with last", "threads", map[string]any{"first": 2, "last": 2}, "first and last cannot be given together: page forwards with first and after, backwards with last and before"},
		{"first with last, meetings", "meetings", map[string]any{"first": 2, "last": 2}, "first and last cannot be given together: page forwards with first and after, backwards with last and before"},
		{"negative last", "threads", map[string]any{"last": -1}, "last must be between 0 and 100"},
		{"last too large", "meetings", map[string]any{"last": 101}, "last must be between 0 and 100"},
		{"a meetings cursor as before", "threads", map[string]any{"last": 2, "before": meetings1}, "before is a cursor of meetings, not of threads"},
		{"another user's cursor as before", "threads", map[string]any{"last": 2, "before": threads2}, "before is a cursor of another user's threads"},
		{"not a cursor", "meetings", map[string]any{"before": "abc"}, "before is not a cursor this field issued"},
		{"a threads cursor as before, meetings", "meetings", map[string]any{"before": threads1}, "before is a cursor of threads, not of meetings"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := threadsBack
			if c.field == "meetings" {
				q = meetingsBack
			}
			c.vars["id"] = "1"
			e.upstream.Reset()
			res := e.do(q, c.vars, nil)
			require.Len(t, res.Errors, 1, "%s", res.Data)
			assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
			assert.Equal(t, c.message, res.Errors[0].Message)
			assert.Zero(t, e.upstream.Calls())
		})
	}
}

// TestThreadsStatusFilter: the facade filters every page, since the REST
// API cannot; totalCount counts the matches, and paging works over them.
func TestThreadsStatusFilter(t *testing.T) {
	e := newEnv(t, withFake(fakeapi.WithThreadsPerUser(47), fakeapi.WithPerPage(20)))
	const uid = 2
	var want []string
	for _, th := range user(t, e.data, uid).Threads {
		if th.Status == "won" || th.Status == "lost" {
			want = append(want, th.ID)
		}
	}
	require.Greater(t, len(want), 4, "the dataset has closed threads")
	q := `query($status: [String!], $first: Int, $after: String, $last: Int) { user(id: "2") {
  threads(status: $status, first: $first, after: $after, last: $last) { totalCount pageInfo { hasPreviousPage hasNextPage startCursor endCursor } nodes { id status } } } }`
	var got struct {
		User struct {
			Threads struct {
				twoWayPage
				Nodes []struct{ ID, Status string }
			}
		}
	}
	e.upstream.Reset()
	e.ok(q, map[string]any{"status": []string{"won", "lost"}, "first": 3}, &got)
	th := got.User.Threads
	assert.Equal(t, len(want), th.TotalCount)
	require.Len(t, th.Nodes, 3)
	for i, n := range th.Nodes {
		assert.Equal(t, want[i], n.ID)
		assert.Contains(t, []string{"won", "lost"}, n.Status)
	}
	assert.Equal(t, []string{"1", "2", "3"}, threadPagesRequested(e.upstream, uid), "every page: the filter is the facade's")

	e.ok(q, map[string]any{"status": []string{"won", "lost"}, "first": 100, "after": th.PageInfo.EndCursor}, &got)
	var ids []string
	for _, n := range got.User.Threads.Nodes {
		ids = append(ids, n.ID)
	}
	assert.Equal(t, want[3:], ids)
	assert.False(t, got.User.Threads.PageInfo.HasNextPage)

	e.ok(q, map[string]any{"status": []string{"won", "lost"}, "last": 2}, &got)
	require.Len(t, got.User.Threads.Nodes, 2)
	assert.Equal(t, want[len(want)-2:], []string{got.User.Threads.Nodes[0].ID, got.User.Threads.Nodes[1].ID})

	e.ok(q, map[string]any{"status": []string{"no such status"}}, &got)
	assert.Zero(t, got.User.Threads.TotalCount)
	assert.Empty(t, got.User.Threads.Nodes)
}

// TestNodes: each id as node finds it, in order; a bad id is null with an
// error at its index, and the others are served; too many ids are refused
// before any call; the lookups of several owners leave together, one call
// per owner and list, as node's would.
func TestNodes(t *testing.T) {
	e := newEnv(t, withFake(fakeapi.WithCleanData(), fakeapi.WithThreadsPerUser(15), fakeapi.WithPerPage(20)))
	u3, u5 := user(t, e.data, 3), user(t, e.data, 5)
	meeting := model.EncodeGlobalID("Meeting", "3:"+itoa(u3.Meetings[0].ID))
	thread := model.EncodeGlobalID("Thread", "5:"+u5.Threads[2].ID)
	person := model.EncodeGlobalID("User", "7")
	missing := model.EncodeGlobalID("Meeting", "3:999999999")
	q := `query($ids: [ID!]!) { nodes(ids: $ids) { globalId ... on Meeting { id } ... on Thread { name } ... on User { id } } }`

	e.upstream.Reset()
	res := e.do(q, map[string]any{"ids": []string{meeting, "not-an-id", thread, person, missing}}, nil)
	require.Len(t, res.Errors, 1, "%s", res.Data)
	assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
	assert.Equal(t, []any{"nodes", float64(1)}, res.Errors[0].Path)
	assert.JSONEq(t, mustJSON(t, map[string]any{"nodes": []any{
		map[string]any{"globalId": meeting, "id": itoa(u3.Meetings[0].ID)},
		nil,
		map[string]any{"globalId": thread, "name": u5.Threads[2].Name},
		map[string]any{"globalId": person, "id": "7"},
		nil,
	}}), string(res.Data))
	assert.Equal(t, 1, e.upstream.CallsTo("/api/v1/users/3/meetings"), "one call for both of user 3's meetings")
	assert.Equal(t, 1, e.upstream.CallsTo("/api/v1/users/5/threads"))
	assert.Equal(t, 2, e.upstream.Calls(), "nothing for the user or the bad id")

	t.Run("too many ids", func(t *testing.T) {
		ids := slices.Repeat([]string{person}, 101)
		e.upstream.Reset()
		res := e.do(q, map[string]any{"ids": ids}, nil)
		require.Len(t, res.Errors, 1)
		assert.Equal(t, graph.CodeBadUserInput, res.Errors[0].code())
		assert.Equal(t, "ids has 101 entries; at most 100 are allowed", res.Errors[0].Message)
		assert.Nil(t, res.Data)
		assert.Zero(t, e.upstream.Calls())
	})

	t.Run("the subtrees load with the lookups", func(t *testing.T) {
		e.upstream.Reset()
		var got struct {
			Nodes []struct{ Meetings []struct{ ID string } }
		}
		e.ok(`query($ids: [ID!]!) { nodes(ids: $ids) { ... on Thread { meetings { id } } } }`, map[string]any{"ids": []string{thread}}, &got)
		require.Len(t, got.Nodes, 1)
		var want []string
		for _, m := range newestFirst(u5.Meetings) {
			if m.ThreadID == u5.Threads[2].ID {
				want = append(want, itoa(m.ID))
			}
		}
		var ids []string
		for _, m := range got.Nodes[0].Meetings {
			ids = append(ids, m.ID)
		}
		assert.Equal(t, want, ids)
		assert.Equal(t, 2, e.upstream.Calls(), "user 5's threads page and meetings")
	})
}

// TestAPageWithoutPaginationIsTheWholeList: an upstream page without a
// pagination object is read as the whole list, both ways, as the thread
// lookup (restclient.FollowPages) reads it: nothing says there is a page 2.
func TestAPageWithoutPaginationIsTheWholeList(t *testing.T) {
	pages := map[string]string{
		"1": `[{"id":"1","name":"a"},{"id":"2","name":"b"}]`,
		"2": `[{"id":"3","name":"c"},{"id":"4","name":"d"}]`,
		"3": `[{"id":"5","name":"e"}]`,
	}
	var mu sync.Mutex
	var asked []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := cmp.Or(r.URL.Query().Get("page"), "1")
		mu.Lock()
		asked = append(asked, p)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":200,"data":{"list":` + cmp.Or(pages[p], "[]") + `}}`))
	}))
	t.Cleanup(up.Close)
	client, err := restclient.New(up.URL)
	require.NoError(t, err)
	e := &env{t: t, handler: graph.NewHandler(graph.Options{Upstream: client})}
	run := func(args string) (ids []string, info map[string]bool, calls []string) {
		t.Helper()
		mu.Lock()
		asked = nil
		mu.Unlock()
		var got struct {
			User struct {
				Threads struct {
					Nodes    []struct{ ID string }
					PageInfo map[string]bool
				}
			}
		}
		e.ok(`{ user(id: "1") { threads(`+args+`) { nodes { id } pageInfo { hasPreviousPage hasNextPage } } } }`, nil, &got)
		for _, n := range got.User.Threads.Nodes {
			ids = append(ids, n.ID)
		}
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(asked)
		return ids, got.User.Threads.PageInfo, slices.Clone(asked)
	}

	ids, info, calls := run("first: 3")
	assert.Equal(t, []string{"1", "2"}, ids)
	assert.Equal(t, map[string]bool{"hasPreviousPage": false, "hasNextPage": false}, info)
	assert.Equal(t, []string{"1"}, calls)

	ids, info, calls = run("last: 1")
	assert.Equal(t, []string{"2"}, ids)
	assert.Equal(t, map[string]bool{"hasPreviousPage": true, "hasNextPage": false}, info)
	assert.Equal(t, []string{"1"}, calls, "page 1 is the last")
}

// TestNodesLookUpTogether: the lookups of ids of several owners and types,
// and what the selection below each needs, all leave together: the gate
// holds every answer until the four calls are in flight at once, which
// they could not be if a subtree's load waited for its node, or one id's
// lookup for another's.
func TestNodesLookUpTogether(t *testing.T) {
	e := newEnv(t, withFake(fakeapi.WithCleanData(), fakeapi.WithThreadsPerUser(15), fakeapi.WithPerPage(20)))
	u3, u5 := user(t, e.data, 3), user(t, e.data, 5)
	meeting := model.EncodeGlobalID("Meeting", "3:"+itoa(u3.Meetings[0].ID))
	thread := model.EncodeGlobalID("Thread", "5:"+u5.Threads[0].ID)
	gate := e.upstream.Gate(4)
	var (
		wg  sync.WaitGroup
		res *gqlResponse
	)
	// The meeting's thread (user 3's threads page 1) and the thread's
	// meetings (user 5's meetings) are the subtrees' loads.
	wg.Go(func() {
		res = e.do(`query($ids: [ID!]!) { nodes(ids: $ids) { ... on Meeting { thread { id } } ... on Thread { meetings { id } } } }`,
			map[string]any{"ids": []string{meeting, thread}}, nil)
	})
	assert.True(t, gate.Wait(10*time.Second), "four calls in flight together (%d arrived)", gate.Arrived())
	wg.Wait()
	require.Empty(t, res.Errors)
	for _, p := range []string{"/api/v1/users/3/meetings", "/api/v1/users/3/threads", "/api/v1/users/5/threads", "/api/v1/users/5/meetings"} {
		assert.Equal(t, 1, e.upstream.CallsTo(p), p)
	}
	assert.Equal(t, 4, e.upstream.Calls())
}
