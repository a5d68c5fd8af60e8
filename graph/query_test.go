package graph_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

type idsConn struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage     bool
		HasPreviousPage bool
		EndCursor       *string
	}
	Nodes []struct {
		ID       string
		ThreadID *string
		Status   string
	}
}

func ids(c idsConn) []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.ID
	}
	return out
}

func TestMeetingsFilterOrderAndPaging(t *testing.T) {
	e := newEnv(t, withFake(fakeapi.WithMeetingsPerUser(40)))
	const id = 9
	all := user(t, e.data, id).Meetings
	const q = `query($id: ID!, $first: Int, $after: String, $filter: MeetingFilter, $order: MeetingOrder) {
		user(id: $id) { meetings(first: $first, after: $after, filter: $filter, orderBy: $order) {
			totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id threadId status } } } }`
	run := func(vars map[string]any) idsConn {
		t.Helper()
		vars["id"] = itoa(id)
		var got struct{ User struct{ Meetings idsConn } }
		e.ok(q, vars, &got)
		return got.User.Meetings
	}

	t.Run("default order pages through everything once", func(t *testing.T) {
		want := newestFirst(all)
		var seen []string
		var after any
		for page := 0; ; page++ {
			c := run(map[string]any{"first": 7, "after": after})
			assert.Equal(t, len(all), c.TotalCount)
			assert.Equal(t, page > 0, c.PageInfo.HasPreviousPage)
			seen = append(seen, ids(c)...)
			if !c.PageInfo.HasNextPage {
				break
			}
			after = *c.PageInfo.EndCursor
		}
		wantIDs := make([]string, len(want))
		for i, m := range want {
			wantIDs[i] = itoa(m.ID)
		}
		assert.Equal(t, wantIDs, seen)
	})

	t.Run("status and type filter", func(t *testing.T) {
		c := run(map[string]any{"first": 100, "filter": map[string]any{"status": []string{"SAVED", "INTERRUPTED"}, "type": "STANDARD"}})
		var want []string
		for _, m := range newestFirst(all) {
			if (m.Status == "saved" || m.Status == "interrupted") && m.Type == "standard" {
				want = append(want, itoa(m.ID))
			}
		}
		require.NotEmpty(t, want, "the dataset should hold such meetings")
		assert.Equal(t, want, ids(c))
		assert.Equal(t, len(want), c.TotalCount)
	})

	t.Run("thread filter", func(t *testing.T) {
		var thread string
		for _, m := range all {
			if m.ThreadID != "" {
				thread = m.ThreadID
				break
			}
		}
		c := run(map[string]any{"first": 100, "filter": map[string]any{"threadId": thread}})
		var want []string
		for _, m := range newestFirst(all) {
			if m.ThreadID == thread {
				want = append(want, itoa(m.ID))
			}
		}
		assert.Equal(t, want, ids(c))
	})

	t.Run("start range", func(t *testing.T) {
		var dates []time.Time
		for _, m := range all {
			if d := wireTime(m.StartDate); d != nil {
				dates = append(dates, *d)
			}
		}
		slices.SortFunc(dates, func(a, b time.Time) int { return a.Compare(b) })
		from, to := dates[len(dates)/4], dates[3*len(dates)/4]
		c := run(map[string]any{"first": 100, "filter": map[string]any{
			"startFrom": from.Format(time.RFC3339), "startTo": to.Format(time.RFC3339)}})
		var want []string
		for _, m := range newestFirst(all) {
			if d := wireTime(m.StartDate); d != nil && !d.Before(from) && d.Before(to) {
				want = append(want, itoa(m.ID))
			}
		}
		require.NotEmpty(t, want)
		assert.Equal(t, want, ids(c))
	})

	t.Run("order by creation ascending", func(t *testing.T) {
		c := run(map[string]any{"first": 100, "order": map[string]any{"field": "CREATED_AT", "direction": "ASC"}})
		got := ids(c)
		require.Len(t, got, len(all))
		created := map[string]*time.Time{}
		for _, m := range all {
			created[itoa(m.ID)] = wireTime(m.CreatedAt)
		}
		for i := 1; i < len(got); i++ {
			a, b := created[got[i-1]], created[got[i]]
			if b == nil {
				continue
			}
			require.NotNil(t, a, "undated meetings come last")
			assert.False(t, a.After(*b), "%s after %s", got[i-1], got[i])
		}
	})
}

func TestThreadMeetingsAndNode(t *testing.T) {
	e := newEnv(t)
	const id = 4
	u := user(t, e.data, id)
	var thread fakeapi.Thread
	counts := map[string]int{}
	for _, m := range u.Meetings {
		if m.ThreadID != "" {
			counts[m.ThreadID]++
		}
	}
	for _, th := range u.Threads {
		if counts[th.ID] > counts[thread.ID] {
			thread = th
		}
	}
	require.NotZero(t, counts[thread.ID])

	var got struct {
		User struct {
			GlobalID string
			Threads  struct {
				Nodes []struct {
					ID       string
					GlobalID string
					Meetings []struct{ ID, GlobalID string }
				}
			}
		}
	}
	e.ok(`query($id: ID!) { user(id: $id) { globalId threads(first: 100) { nodes { id globalId meetings { id globalId } } } } }`,
		map[string]any{"id": itoa(id)}, &got)
	var gotThread *struct {
		ID       string
		GlobalID string
		Meetings []struct{ ID, GlobalID string }
	}
	for i := range got.User.Threads.Nodes {
		if got.User.Threads.Nodes[i].ID == thread.ID {
			gotThread = &got.User.Threads.Nodes[i]
		}
	}
	require.NotNil(t, gotThread)
	var want []string
	for _, m := range newestFirst(u.Meetings) {
		if m.ThreadID == thread.ID {
			want = append(want, itoa(m.ID))
		}
	}
	var gotIDs []string
	for _, m := range gotThread.Meetings {
		gotIDs = append(gotIDs, m.ID)
	}
	assert.Equal(t, want, gotIDs)

	// Every global id resolves back to its object through Query.node.
	const nq = `query($id: ID!) { node(id: $id) { __typename globalId ... on User { id } ... on Meeting { id } ... on Thread { id name } } }`
	for _, c := range []struct{ gid, typ, id string }{
		{got.User.GlobalID, "User", itoa(id)},
		{gotThread.GlobalID, "Thread", thread.ID},
		{gotThread.Meetings[0].GlobalID, "Meeting", gotThread.Meetings[0].ID},
	} {
		var n struct {
			Node struct {
				Typename string `json:"__typename"`
				GlobalID string
				ID       string
			}
		}
		e.ok(nq, map[string]any{"id": c.gid}, &n)
		assert.Equal(t, c.typ, n.Node.Typename)
		assert.Equal(t, c.gid, n.Node.GlobalID)
		assert.Equal(t, c.id, n.Node.ID)
	}
}

func TestCredentialsAreForwardedAndResponsesPrivate(t *testing.T) {
	const other = "Bearer tenant-two"
	e := newEnv(t, withFake(fakeapi.WithTenant(other, 99)))
	res := e.do(`{ user(id: "1") { threads(first: 1) { nodes { name } } } }`, nil, map[string]*string{"Authorization": ptr(other)})
	require.Empty(t, res.Errors)
	want := user(t, e.upstream.DatasetFor(other), 1).Threads[0].Name
	assert.Contains(t, string(res.Data), jsonString(want))
	assert.Equal(t, 1, e.upstream.CallsBy(other))
	assert.Zero(t, e.upstream.CallsBy(fakeapi.DefaultToken))
	assert.Equal(t, "private, no-store", res.header.Get("Cache-Control"))
	assert.Contains(t, res.header.Get("Vary"), "Authorization")
	for _, r := range e.upstream.Requests() {
		assert.Equal(t, other, r.Credential)
	}
}

func jsonString(s string) string {
	b, _ := jsonMarshal(s)
	return string(b)
}
