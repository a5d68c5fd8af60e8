package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/resttest"
)

// Tests of what the facade makes of upstream answers that are large,
// paginated or hold values it cannot read.

// serve runs one query against h with the demo credential, on the calling
// goroutine, and returns the recorded answer undecoded, so that it may run
// on a goroutine of its own.
func serve(h http.Handler, query string) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]any{"query": query})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", resttest.DefaultToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeResponse(t *testing.T, rec *httptest.ResponseRecorder) *gqlResponse {
	t.Helper()
	var out gqlResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	return &out
}

// TestUpstreamBodiesStayWithinTheMemoryBudget: with a 1 MiB budget, a
// 700 kB answer being read leaves no room for a second one. A second answer
// of declared length waits and is then served; one of unknown length fails
// at once with UPSTREAM_MEMORY_LIMIT at its path while the rest of its
// operation stands; the budget is never exceeded.
func TestUpstreamBodiesStayWithinTheMemoryBudget(t *testing.T) {
	const budget, big = 1 << 20, 700_000
	fake := resttest.NewServer()
	t.Cleanup(fake.Close)
	stall := make(chan struct{})
	resume := func() {
		select {
		case <-stall:
		default:
			close(stall)
		}
	}
	t.Cleanup(resume)
	client, err := restclient.New(fake.URL, restclient.WithBodyBudget(budget), restclient.WithMaxResponseBytes(budget),
		restclient.WithoutRetry(), restclient.WithoutCircuitBreaker())
	require.NoError(t, err)
	h := graph.NewHandler(graph.Options{Upstream: client})
	data := fake.Dataset()
	fake.Inject(resttest.Fault{Path: "/api/v1/users/1/meetings", Kind: resttest.FaultLargeBody, Size: big, MidBody: stall})
	fake.Inject(resttest.Fault{Path: "/api/v1/users/2/meetings", Kind: resttest.FaultLargeBody, Size: big})
	fake.Inject(resttest.Fault{Path: "/api/v1/users/3/meetings", Kind: resttest.FaultLargeBody, Size: 600_000, Chunked: true})

	held := make(chan *httptest.ResponseRecorder, 1)
	go func() { held <- serve(h, `{ user(id: "1") { meetings { totalCount } } }`) }()
	require.Eventually(t, func() bool { return client.BodyMemory().InUse == big }, 10*time.Second, time.Millisecond,
		"user 1's answer is being read")
	waiting := make(chan *httptest.ResponseRecorder, 1)
	go func() { waiting <- serve(h, `{ user(id: "2") { meetings { totalCount } } }`) }()
	require.Eventually(t, func() bool { return client.BodyMemory().Waiting == 1 }, 10*time.Second, time.Millisecond,
		"user 2's answer waits for room")

	res := decodeResponse(t, serve(h, `{ a: user(id: "3") { meetings { totalCount } } b: user(id: "4") { meetings { totalCount } } }`))
	require.Len(t, res.Errors, 1, "%+v", res.Errors)
	e := res.Errors[0]
	assert.Equal(t, graph.CodeUpstreamMemoryLimit, e.code())
	assert.Equal(t, []any{"a", "meetings"}, e.Path)
	assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserMeetings}, e.Extensions["upstream"])
	assert.JSONEq(t, fmt.Sprintf(`{"a": null, "b": {"meetings": {"totalCount": %d}}}`, len(user(t, data, 4).Meetings)), string(res.Data),
		"user 4's small answer fits beside the big one")

	resume()
	for id, ch := range map[int64]chan *httptest.ResponseRecorder{1: held, 2: waiting} {
		res := decodeResponse(t, <-ch)
		assert.Empty(t, res.Errors, "user %d", id)
		assert.JSONEq(t, fmt.Sprintf(`{"user": {"meetings": {"totalCount": %d}}}`, len(user(t, data, id).Meetings)), string(res.Data))
	}
	m := client.BodyMemory()
	assert.LessOrEqual(t, m.Peak, m.Limit, "the budget was never exceeded")
	assert.Zero(t, m.InUse)
}

// TestPaginatedMeetingsAreServedWhole: an upstream that pages the meetings
// answer (5 to a page, 12 meetings) gets every page asked for, and the
// connection counts and orders all 12, not page 1's five.
func TestPaginatedMeetingsAreServedWhole(t *testing.T) {
	e := newEnv(t, withFake(resttest.WithPaginatedMeetings(5)))
	var got struct {
		User struct {
			Meetings struct {
				TotalCount int
				Nodes      []struct{ ID string }
			}
		}
	}
	e.ok(`{ user(id: "6") { meetings(first: 100) { totalCount nodes { id } } } }`, nil, &got)
	want := newestFirst(user(t, e.data, 6).Meetings)
	require.Len(t, want, 12)
	assert.Equal(t, len(want), got.User.Meetings.TotalCount)
	ids := make([]string, len(got.User.Meetings.Nodes))
	for i, n := range got.User.Meetings.Nodes {
		ids[i] = n.ID
	}
	wantIDs := make([]string, len(want))
	for i, m := range want {
		wantIDs[i] = itoa(m.ID)
	}
	assert.Equal(t, wantIDs, ids)
	assert.Equal(t, 3, e.upstream.CallsTo("/api/v1/users/6/meetings"), "three pages")
}

// TestUnreadableValueIsAnErrorAtItsPath: one meeting's start date is
// "wczoraj". That field is null with an UPSTREAM_BAD_RESPONSE error at its
// path; the meeting's other fields and every other meeting are served as
// the dataset holds them. (The meeting sorts as undated, last.)
func TestUnreadableValueIsAnErrorAtItsPath(t *testing.T) {
	e := newEnv(t, withFake(resttest.WithCleanData()))
	const id, bad = 3, 5 // user, index of the corrupted record in the upstream's list
	e.upstream.Inject(resttest.Fault{Path: "/api/v1/users/3/meetings", Kind: resttest.FaultFieldValue, Record: bad, Field: "start_date", Value: `"wczoraj"`})
	ms := user(t, e.data, id).Meetings
	corrupted := ms[bad]
	undated := append([]resttest.Meeting(nil), ms...)
	undated[bad].StartDate = "" // how the facade can order it
	want := newestFirst(undated)
	require.Equal(t, corrupted.ID, want[len(want)-1].ID, "the corrupted meeting sorts last")

	res := e.do(`{ user(id: "3") { meetings(first: 100) { totalCount nodes { `+meetingFields+` } } } }`, nil, nil)
	require.Len(t, res.Errors, 1, "%+v", res.Errors)
	er := res.Errors[0]
	assert.Equal(t, graph.CodeUpstreamBadResponse, er.code())
	assert.Equal(t, []any{"user", "meetings", "nodes", float64(len(want) - 1), "startDate"}, er.Path)
	assert.Equal(t, "the upstream API sent a value for this field that could not be read: not a date", er.Message)
	assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserMeetings, "field": "start_date"}, er.Extensions["upstream"])
	assert.NotContains(t, er.Message, "wczoraj")

	var got struct {
		User struct {
			Meetings struct {
				TotalCount int
				Nodes      []meetingJSON
			}
		}
	}
	require.NoError(t, json.Unmarshal(res.Data, &got))
	require.Len(t, got.User.Meetings.Nodes, len(ms))
	assert.Equal(t, len(ms), got.User.Meetings.TotalCount)
	for i, w := range want {
		g := got.User.Meetings.Nodes[i]
		assert.Equal(t, itoa(w.ID), g.ID)
		assert.Equal(t, rfc3339(w.StartDate), str(g.StartDate), "meeting %d start", w.ID)
		assert.Equal(t, rfc3339(w.EndDate), str(g.EndDate))
		assert.Equal(t, w.Visits, g.Visits)
		assert.Equal(t, itoa(w.UserID), g.User.ID)
	}
	assert.Nil(t, got.User.Meetings.Nodes[len(want)-1].StartDate, "no date invented")
}

// TestUnreadableValueOfANonNullField: "visits": "x" on an Int! field is an
// error at that path, not 0; its null propagates, as the GraphQL spec says,
// up to the nearest field that may be null (the user), and a sibling user's
// answer stands.
func TestUnreadableValueOfANonNullField(t *testing.T) {
	e := newEnv(t)
	e.upstream.Inject(resttest.Fault{Path: "/api/v1/users/3/meetings", Kind: resttest.FaultFieldValue, Record: 0, Field: "visits", Value: `"x"`})
	res := e.do(`{ a: user(id: "3") { meetings(first: 100, orderBy: {field: START_DATE, direction: ASC}) { nodes { id visits } } }
		b: user(id: "4") { meetings(first: 100) { totalCount } } }`, nil, nil)
	require.Len(t, res.Errors, 1, "%+v", res.Errors)
	er := res.Errors[0]
	assert.Equal(t, graph.CodeUpstreamBadResponse, er.code())
	require.Len(t, er.Path, 5)
	assert.Equal(t, []any{"a", "meetings", "nodes"}, er.Path[:3])
	assert.Equal(t, "visits", er.Path[4])
	assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserMeetings, "field": "visits"}, er.Extensions["upstream"])
	assert.JSONEq(t, fmt.Sprintf(`{"a": null, "b": {"meetings": {"totalCount": %d}}}`, len(user(t, e.data, 4).Meetings)), string(res.Data))
}

// TestUnreadableThreadValues: an amount and an owner that cannot be read.
func TestUnreadableThreadValues(t *testing.T) {
	e := newEnv(t)
	e.upstream.Inject(resttest.Fault{Path: "/api/v1/users/3/threads", Kind: resttest.FaultFieldValue, Record: 1, Field: "contract_value", Value: `"dużo"`})
	threads := user(t, e.data, 3).Threads
	res := e.do(`{ user(id: "3") { threads(first: 3) { nodes { id name contractValue } } } }`, nil, nil)
	require.Len(t, res.Errors, 1, "%+v", res.Errors)
	er := res.Errors[0]
	assert.Equal(t, graph.CodeUpstreamBadResponse, er.code())
	assert.Equal(t, []any{"user", "threads", "nodes", float64(1), "contractValue"}, er.Path)
	assert.Equal(t, map[string]any{"endpoint": restclient.EndpointUserThreads, "field": "contract_value"}, er.Extensions["upstream"])
	var got struct {
		User struct {
			Threads struct {
				Nodes []struct {
					ID            string
					Name          string
					ContractValue *float64
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(res.Data, &got))
	nodes := got.User.Threads.Nodes
	require.Len(t, nodes, 3)
	for i, n := range nodes {
		assert.Equal(t, threads[i].ID, n.ID)
		assert.Equal(t, threads[i].Name, n.Name)
		if i == 1 {
			assert.Nil(t, n.ContractValue, "no amount invented")
			continue
		}
		require.NotNil(t, n.ContractValue)
		assert.InDelta(t, threads[i].ContractValue, *n.ContractValue, 1e-9)
	}

	e.upstream.ClearFaults()
	e.upstream.Inject(resttest.Fault{Path: "/api/v1/users/3/threads", Kind: resttest.FaultFieldValue, Record: 0, Field: "id_user", Value: `"ja"`})
	res = e.do(`{ user(id: "3") { threads(first: 1) { nodes { id owner { id } } } } }`, nil, nil)
	require.Len(t, res.Errors, 1, "%+v", res.Errors)
	assert.Equal(t, []any{"user", "threads", "nodes", float64(0), "owner"}, res.Errors[0].Path)
	assert.JSONEq(t, `{"user": null}`, string(res.Data), "owner is User!: the null propagates to the user")
}
