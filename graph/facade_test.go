package graph_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

const meetingFields = `id globalId hash personId companyId threadId status rawStatus type rawType
	startDate endDate createdAt modifiedAt address visits visitsOwner visitsCopy
	location { latitude longitude } user { id }`

type meetingJSON struct {
	ID          string  `json:"id"`
	GlobalID    string  `json:"globalId"`
	Hash        *string `json:"hash"`
	PersonID    *string `json:"personId"`
	CompanyID   *string `json:"companyId"`
	ThreadID    *string `json:"threadId"`
	Status      string  `json:"status"`
	RawStatus   *string `json:"rawStatus"`
	Type        string  `json:"type"`
	RawType     *string `json:"rawType"`
	StartDate   *string `json:"startDate"`
	EndDate     *string `json:"endDate"`
	CreatedAt   *string `json:"createdAt"`
	ModifiedAt  *string `json:"modifiedAt"`
	Address     *string `json:"address"`
	Visits      *int64  `json:"visits"`
	VisitsOwner *int64  `json:"visitsOwner"`
	VisitsCopy  *int64  `json:"visitsCopy"`
	Location    *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
	} `json:"location"`
	User *struct {
		ID string `json:"id"`
	} `json:"user"`
	Thread *struct {
		ID   string  `json:"id"`
		Name *string `json:"name"`
	} `json:"thread"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestUserMeetingsEveryField(t *testing.T) {
	e := newEnv(t)
	const id = 3
	var got struct {
		User struct {
			ID       string `json:"id"`
			Meetings struct {
				TotalCount int           `json:"totalCount"`
				Nodes      []meetingJSON `json:"nodes"`
			} `json:"meetings"`
		} `json:"user"`
	}
	e.ok(`query($id: ID!) { user(id: $id) { id meetings(first: 100) { totalCount nodes { `+meetingFields+` } } } }`,
		map[string]any{"id": itoa(id)}, &got)

	want := newestFirst(user(t, e.data, id).Meetings)
	require.Equal(t, itoa(id), got.User.ID)
	require.Equal(t, len(want), got.User.Meetings.TotalCount)
	require.Len(t, got.User.Meetings.Nodes, len(want))
	for i, w := range want {
		g := got.User.Meetings.Nodes[i]
		assert.Equal(t, itoa(w.ID), g.ID)
		assert.Equal(t, w.Hash, str(g.Hash))
		assert.Equal(t, w.PersonID, str(g.PersonID))
		assert.Equal(t, w.CompanyID, str(g.CompanyID))
		assert.Equal(t, w.ThreadID, str(g.ThreadID))
		assert.Equal(t, strings.ToUpper(w.Status), g.Status)
		assert.Equal(t, &w.Status, g.RawStatus)
		assert.Equal(t, strings.ToUpper(w.Type), g.Type)
		assert.Equal(t, rfc3339(w.StartDate), str(g.StartDate), "meeting %d start", w.ID)
		assert.Equal(t, rfc3339(w.EndDate), str(g.EndDate))
		assert.Equal(t, rfc3339(w.CreatedAt), str(g.CreatedAt))
		assert.Equal(t, rfc3339(w.ModifiedAt), str(g.ModifiedAt))
		assert.Equal(t, w.Address, str(g.Address))
		assert.Equal(t, &w.Visits, g.Visits)
		assert.Equal(t, &w.VisitsOwner, g.VisitsOwner)
		assert.Equal(t, &w.VisitsCopy, g.VisitsCopy)
		require.NotNil(t, g.User)
		assert.Equal(t, itoa(w.UserID), g.User.ID)
		if w.GPSLat == "" || w.GPSLng == "" {
			assert.Nil(t, g.Location)
		} else if assert.NotNil(t, g.Location, "meeting %d location", w.ID) {
			assert.Equal(t, w.GPSLat, fmt.Sprint(g.Location.Latitude))
			assert.Equal(t, w.GPSLng, fmt.Sprint(g.Location.Longitude))
		}
	}
	assert.Equal(t, 1, e.upstream.Calls(), "one upstream call for one user's meetings")
}

func TestThreadsEveryFieldAndPaging(t *testing.T) {
	e := newEnv(t)
	const id = 5
	want := user(t, e.data, id).Threads
	require.Greater(t, len(want), 20, "the default dataset spans several upstream pages")

	type threadJSON struct {
		ID            string  `json:"id"`
		Number        *string `json:"number"`
		Name          *string `json:"name"`
		Owner         struct{ ID string }
		CompanyID     *string  `json:"companyId"`
		PersonID      *string  `json:"personId"`
		Status        *string  `json:"status"`
		Description   *string  `json:"description"`
		EndDate       *string  `json:"endDate"`
		ContractValue *float64 `json:"contractValue"`
		Fields        any      `json:"fields"`
		CreatedAt     *string  `json:"createdAt"`
		ModifiedAt    *string  `json:"modifiedAt"`
	}
	type conn struct {
		TotalCount int `json:"totalCount"`
		PageInfo   struct {
			HasNextPage     bool    `json:"hasNextPage"`
			HasPreviousPage bool    `json:"hasPreviousPage"`
			StartCursor     *string `json:"startCursor"`
			EndCursor       *string `json:"endCursor"`
		} `json:"pageInfo"`
		Edges []struct {
			Cursor string `json:"cursor"`
			Node   struct {
				ID string `json:"id"`
			} `json:"node"`
		} `json:"edges"`
		Nodes []threadJSON `json:"nodes"`
	}
	const q = `query($id: ID!, $first: Int, $after: String) { user(id: $id) { threads(first: $first, after: $after) {
		totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } }
		nodes { id number name owner { id } companyId personId status description endDate contractValue fields createdAt modifiedAt } } } }`

	// The first five cost exactly one upstream call: page 1.
	var first struct{ User struct{ Threads conn } }
	e.ok(q, map[string]any{"id": itoa(id), "first": 5}, &first)
	assert.Equal(t, 1, e.upstream.Calls())
	c := first.User.Threads
	assert.Equal(t, len(want), c.TotalCount)
	require.Len(t, c.Nodes, 5)
	assert.True(t, c.PageInfo.HasNextPage)
	assert.False(t, c.PageInfo.HasPreviousPage)
	for i, g := range c.Nodes {
		w := want[i]
		assert.Equal(t, w.ID, g.ID)
		assert.Equal(t, w.Number, str(g.Number))
		assert.Equal(t, w.Name, str(g.Name))
		assert.Equal(t, itoa(w.UserID), g.Owner.ID)
		assert.Equal(t, w.CompanyID, str(g.CompanyID))
		assert.Equal(t, w.PersonID, str(g.PersonID))
		assert.Equal(t, w.Status, str(g.Status))
		assert.Equal(t, w.Description, str(g.Description))
		assert.Equal(t, rfc3339(w.EndDate), str(g.EndDate))
		assert.Equal(t, rfc3339(w.CreatedAt), str(g.CreatedAt))
		assert.Equal(t, rfc3339(w.ModifiedAt), str(g.ModifiedAt))
		require.NotNil(t, g.ContractValue)
		assert.InDelta(t, w.ContractValue, *g.ContractValue, 1e-9)
		assert.JSONEq(t, string(w.Fields), mustJSON(t, g.Fields))
		assert.Equal(t, c.Edges[i].Node.ID, g.ID)
	}
	assert.Equal(t, c.Edges[4].Cursor, *c.PageInfo.EndCursor)

	// The next 30 (offsets 5..34) need upstream pages 1 and 2 only.
	e.upstream.Reset()
	var next struct{ User struct{ Threads conn } }
	e.ok(q, map[string]any{"id": itoa(id), "first": 30, "after": *c.PageInfo.EndCursor}, &next)
	require.Len(t, next.User.Threads.Nodes, 30)
	for i, g := range next.User.Threads.Nodes {
		assert.Equal(t, want[5+i].ID, g.ID)
	}
	assert.Equal(t, []string{"1", "2"}, threadPagesRequested(e.upstream, id))
	assert.True(t, next.User.Threads.PageInfo.HasPreviousPage)

	// A cursor deep in the list fetches only the page that holds it.
	e.upstream.Reset()
	var last struct{ User struct{ Threads conn } }
	e.ok(q, map[string]any{"id": itoa(id), "first": 100, "after": next.User.Threads.Edges[29].Cursor}, &last)
	require.Len(t, last.User.Threads.Nodes, len(want)-35)
	assert.Equal(t, want[len(want)-1].ID, last.User.Threads.Nodes[len(last.User.Threads.Nodes)-1].ID)
	assert.False(t, last.User.Threads.PageInfo.HasNextPage)
	assert.Equal(t, []string{"2", "3"}, threadPagesRequested(e.upstream, id))
}

// threadPagesRequested lists the page parameters of the threads calls made
// for a user, in the order the fake saw them, sorted.
func threadPagesRequested(s *fakeapi.Server, user int64) []string {
	var pages []string
	for _, r := range s.Requests() {
		if r.Path != fmt.Sprintf("/api/v1/users/%d/threads", user) {
			continue
		}
		q, _ := url.ParseQuery(r.RawQuery)
		p := q.Get("page")
		if p == "" {
			p = "1"
		}
		pages = append(pages, p)
	}
	sortStrings(pages)
	return pages
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestNestedQueryOneCallPerDistinctPage(t *testing.T) {
	e := newEnv(t)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = itoa(int64(i + 1))
	}
	// Deep nesting revisits the same users, meetings and threads: none of it
	// may cost a second call.
	const q = `query($ids: [ID!]!) { users(ids: $ids) { id
		meetings(first: 100) { nodes { id thread { id name meetings { id thread { id } user { meetings(first: 1) { totalCount } } } owner { id } } } }
		threads(first: 3) { nodes { id meetings { id } } } } }`
	var got struct {
		Users []struct {
			ID       string
			Meetings struct {
				Nodes []meetingJSON
			}
		}
	}
	e.ok(q, map[string]any{"ids": ids}, &got)
	require.Len(t, got.Users, 20)

	seen := map[string]int{}
	for _, r := range e.upstream.Requests() {
		seen[r.Path+"?"+r.RawQuery]++
	}
	for k, n := range seen {
		assert.Equal(t, 1, n, "%s requested %d times", k, n)
	}
	// Every user's meetings once, and every threads page once.
	assert.Equal(t, 20, e.upstream.CallsTo("/api/v1/users/*/meetings"))
	wantPages := 0
	for i := range 20 {
		u := user(t, e.data, int64(i+1))
		// Every meeting's thread is resolved from the dataset.
		byID := map[string]string{}
		onPage1 := map[string]bool{}
		for j, th := range u.Threads {
			byID[th.ID] = th.Name
			onPage1[th.ID] = j < 20
		}
		// Page 1 always; the other pages only when a meeting's thread is not on it.
		pages := 1
		for _, m := range u.Meetings {
			if m.ThreadID != "" && !onPage1[m.ThreadID] {
				pages = (len(u.Threads) + 19) / 20
			}
		}
		wantPages += pages
		for _, m := range got.Users[i].Meetings.Nodes {
			if m.ThreadID == nil {
				continue
			}
			name, ok := byID[*m.ThreadID]
			if !ok {
				assert.Nil(t, m.Thread)
				continue
			}
			if assert.NotNil(t, m.Thread) {
				assert.Equal(t, name, str(m.Thread.Name))
			}
		}
	}
	assert.Equal(t, wantPages, e.upstream.CallsTo("/api/v1/users/*/threads"))
}

func TestMeetingsAndThreadsLeaveInOneWave(t *testing.T) {
	// Clean data and a single threads page per user: the whole operation must
	// then be one round trip, which the gate proves by holding every answer
	// until all 40 calls are in flight at once.
	e := newEnv(t, withFake(fakeapi.WithThreadsPerUser(15), fakeapi.WithPerPage(20)))
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = itoa(int64(i + 1))
	}
	gate := e.upstream.Gate(40)
	var wg sync.WaitGroup
	var res *gqlResponse
	wg.Go(func() {
		res = e.do(`query($ids: [ID!]!) { users(ids: $ids) { meetings { nodes { thread { name } } } } }`,
			map[string]any{"ids": ids}, nil)
	})
	assert.True(t, gate.Wait(10*time.Second), "meetings and threads of 20 users did not leave in one wave (%d arrived)", gate.Arrived())
	wg.Wait()
	require.Empty(t, res.Errors)
	assert.Equal(t, 40, e.upstream.Calls())
	assert.GreaterOrEqual(t, e.upstream.MaxInFlight(), 40)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
