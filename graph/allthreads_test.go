package graph_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// shiftingTotal is an upstream whose threads pages after the first count
// one thread more than page 1 said: pages that disagree, whose union could
// miss or repeat threads.
type shiftingTotal struct{ graph.Upstream }

func (u shiftingTotal) UserList(ctx context.Context, list restclient.AnyList, userID int64, page int) (restclient.Records, error) {
	r, err := u.Upstream.UserList(ctx, list, userID, page)
	if p, ok := r.(*restclient.Page[restclient.Thread]); ok && page > 1 {
		p.Pagination.Total++
	}
	return r, err
}

// TestThreadLookupChecksThatPagesAgree: Meeting.thread beyond page 1 joins
// the user's pages with restclient.FollowPages, so its consistency checks
// hold for the facade too (its own join had none), while each page is still
// fetched once and page 1's lookups are unaffected.
func TestThreadLookupChecksThatPagesAgree(t *testing.T) {
	const perPage = 5
	fake := fakeapi.NewServer(fakeapi.WithPerPage(perPage))
	t.Cleanup(fake.Close)
	client, err := restclient.New(fake.URL)
	require.NoError(t, err)
	e := &env{t: t, upstream: fake, data: fake.Dataset(), handler: graph.NewHandler(graph.Options{Upstream: shiftingTotal{client}, Logger: slog.New(slog.DiscardHandler)})}

	// A user with a meeting whose thread is on page 1 and one whose thread
	// is further on.
	var (
		id             int64
		onPage1, later int
	)
	for _, u := range e.data.Users {
		page := map[string]int{}
		for i, th := range u.Threads {
			page[th.ID] = i/perPage + 1
		}
		onPage1, later = 0, 0
		for _, m := range u.Meetings {
			switch p := page[m.ThreadID]; {
			case p == 1:
				onPage1++
			case p > 1:
				later++
			}
		}
		if onPage1 > 0 && later > 0 {
			id = u.ID
			break
		}
	}
	require.NotZero(t, id, "the dataset has a user with threads on and beyond page 1")

	res := e.do(`query($id: ID!) { user(id: $id) { meetings(first: 100) { nodes { thread { id } } } } }`, map[string]any{"id": itoa(id)}, nil)
	require.Len(t, res.Errors, later, "one error per meeting whose thread is beyond page 1: %+v", res.Errors)
	for _, er := range res.Errors {
		assert.Equal(t, graph.CodeUpstreamBadResponse, er.code())
		assert.Contains(t, er.Message, "pagination could not be followed")
		assert.Equal(t, "thread", er.Path[len(er.Path)-1])
	}
	var got struct {
		User struct {
			Meetings struct {
				Nodes []struct{ Thread *struct{ ID string } }
			}
		}
	}
	require.NoError(t, json.Unmarshal(res.Data, &got))
	found := 0
	for _, n := range got.User.Meetings.Nodes {
		if n.Thread != nil {
			found++
		}
	}
	assert.Equal(t, onPage1, found, "threads on page 1 are found")

	u := user(t, e.data, id)
	pages := (len(u.Threads) + perPage - 1) / perPage
	assert.Equal(t, pages, fake.CallsTo("/api/v1/users/*/threads"), "every page once")
	for p := 1; p <= pages; p++ {
		n := 0
		for _, r := range fake.Requests() {
			if r.Path == "/api/v1/users/"+itoa(id)+"/threads" && r.RawQuery == "page="+itoa(int64(p)) {
				n++
			}
		}
		assert.Equal(t, 1, n, "page %d", p)
	}
}
