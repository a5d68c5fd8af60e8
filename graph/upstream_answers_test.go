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
