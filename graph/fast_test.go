package graph_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTheFastPathAnswersAsTheExecutor: every plain field of every type,
// with aliases, __typename, fragments, nulls (the upstream's among them),
// unreadable values, records without an id, a long text (written into the
// response only when it is marshalled) and a list large enough to be
// marshalled in order, answers byte for byte what gqlgen's executor
// answers, errors included.
func TestTheFastPathAnswersAsTheExecutor(t *testing.T) {
	const threadsFragment = `fragment T on User { threads(first: 100) { totalCount pageInfo { endCursor }
		edges { cursor node { id } } nodes { __typename id globalId number name companyId personId status description
		endDate contractValue fields createdAt modifiedAt owner { id } } } }`
	queries := map[string]string{
		"meetings": `{ users(ids: ["1", "2", "3", "4", "5"]) { __typename id globalId ... on Node { nodeId: globalId }
			meetings(first: 100) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
				edges { cursor node { id } }
				nodes { __typename ` + meetingFields + ` again: id ...M } } } }
			fragment M on Meeting { status t: type }`,
		// One root field each: the errors of two would come in either order.
		"threads":               `{ user(id: "3") { ...T } } ` + threadsFragment,
		"threads without an id": `{ user(id: "2") { ...T } } ` + threadsFragment,
		"long text":             `{ user(id: "6") { meetings(first: 100) { nodes { id address hash } } } }`,
		"skipped and included":  `query($no: Boolean = false) { user(id: "2") { meetings(first: 5) { nodes { id status @skip(if: $no) address @include(if: $no) } } } }`,
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			answer := func(fast bool) *gqlResponse {
				defer graph.SetFastPath(fast)()
				e := newEnv(t)
				// One fault per list: the fake serves the first that matches.
				e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/3/meetings", Kind: fakeapi.FaultFieldValue, Record: 2, Field: "visits", Value: `"dużo"`})
				e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/1/meetings", Kind: fakeapi.FaultFieldValue, Record: 1, Field: "visits_owner", Value: `null`})
				e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultFieldValue, Record: 1, Field: "id", Value: `null`})
				e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/4/meetings", Kind: fakeapi.FaultFieldValue, Record: 0, Field: "status", Value: `null`})
				e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/5/meetings", Kind: fakeapi.FaultFieldValue, Record: 3, Field: "id_user", Value: `"ja"`})
				e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/3/threads", Kind: fakeapi.FaultFieldValue, Record: 1, Field: "contract_value", Value: `"drogo"`})
				e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/2/threads", Kind: fakeapi.FaultFieldValue, Record: 2, Field: "id", Value: `true`})
				e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/6/meetings", Kind: fakeapi.FaultFieldValue, Record: 1, Field: "address", Value: longText})
				rid := "fast-path-test"
				return e.do(q, nil, map[string]*string{"X-Request-Id": &rid})
			}
			slow, fast := answer(false), answer(true)
			require.NotEmpty(t, slow.Data)
			if name != "skipped and included" && name != "long text" {
				require.NotEmpty(t, slow.Errors, "the faults reach the answer")
			}
			assert.JSONEq(t, string(slow.Data), string(fast.Data))
			assert.Equal(t, string(slow.Data), string(fast.Data), "byte for byte")
			assert.Equal(t, slow.Errors, fast.Errors)
		})
	}
}

// TestAListMarshalledInOrderStillLoadsAtOnce: users whose meetings the
// look-ahead started are marshalled one after another (lists.go), and their
// calls must still all be in flight together: a gate opens only then.
func TestAListMarshalledInOrderStillLoadsAtOnce(t *testing.T) {
	e := newEnv(t)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = itoa(int64(i + 1))
	}
	gate := e.upstream.Gate(len(ids))
	var res *gqlResponse
	done := make(chan struct{})
	go func() {
		defer close(done)
		res = e.do(`query($ids: [ID!]!) { users(ids: $ids) { id meetings(first: 100) { nodes { id status } } } }`, map[string]any{"ids": ids}, nil)
	}()
	assert.True(t, gate.Wait(10*time.Second), "the 20 meetings calls did not leave together (%d arrived)", gate.Arrived())
	<-done
	require.Empty(t, res.Errors)
	assert.Equal(t, len(ids), e.upstream.Calls())
	var got struct {
		Users []struct {
			ID       string
			Meetings struct{ Nodes []struct{ ID string } }
		}
	}
	require.NoError(t, json.Unmarshal(res.Data, &got))
	require.Len(t, got.Users, len(ids))
	for i, u := range got.Users {
		assert.Equal(t, ids[i], u.ID)
		assert.Len(t, u.Meetings.Nodes, len(user(t, e.data, int64(i+1)).Meetings))
	}
}

// TestPlainMeetingsTakeTheFastPath: a page of plain meetings, a count the
// upstream sent as null among them, is written by the fast path, not by the
// executor, whose path costs a field context, a boxed result and a
// marshaler per field: the fast path keeps the nullable counts on it.
func TestPlainMeetingsTakeTheFastPath(t *testing.T) {
	const q = `{ user(id: "3") { meetings(first: 100) { nodes { id globalId hash personId companyId threadId
		status rawStatus type rawType address visits visitsOwner visitsCopy } } } }`
	allocs := func(fast bool) float64 {
		defer graph.SetFastPath(fast)()
		e := newEnv(t)
		e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/3/meetings", Kind: fakeapi.FaultFieldValue, Record: 0, Field: "visits", Value: `null`})
		return testing.AllocsPerRun(5, func() {
			res := e.do(q, nil, nil)
			require.Empty(t, res.Errors)
			require.Contains(t, string(res.Data), `"visits":null`)
		})
	}
	slow, fast := allocs(false), allocs(true)
	meetings := len(user(t, fakeapi.NewDataset(), 3).Meetings)
	t.Logf("allocations per request for %d meetings: %.0f on the executor's path, %.0f on the fast path", meetings, slow, fast)
	// At least two allocations saved per field of each meeting (about
	// five are); the rest of the request (HTTP, the upstream call, the
	// fake's own encoding) costs the same on both paths.
	const fields = 14
	assert.Greater(t, slow-fast, float64(2*fields*meetings))
}

// longText is an address of over 8 KB, in JSON, with every kind of escape
// a response needs.
var longText = `"` + strings.Repeat(`ul. \"Długa\" 7\\8\n\t\u0001\r `, 400) + `"`
