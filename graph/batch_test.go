package graph_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
)

// batchOfTwo asks for users 1's and 2's meetings in two operations of one
// batch: one upstream call each.
const batchOfTwo = `[{"query":"query A { user(id: \"1\") { meetings { totalCount } } }"},
	{"query":"query B { user(id: \"2\") { meetings { totalCount } } }"}]`

func batchTotals(t *testing.T, res *httpResult) []gqlResponse {
	t.Helper()
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	var answers []gqlResponse
	require.NoError(t, json.Unmarshal(res.body, &answers), "%s", res.body)
	require.Len(t, answers, 2)
	return answers
}

// TestBatchOperationsRunConcurrently: the upstream calls of a batch's two
// operations are held at the upstream at the same time, which operations
// run one after another never are; the answers come in request order.
func TestBatchOperationsRunConcurrently(t *testing.T) {
	e := newEnv(t, withGraph(func(o *graph.Options) { o.Batching = true }))
	gate := e.upstream.Gate(2)
	done := make(chan *httpResult, 1)
	go func() { done <- e.send(postReq(batchOfTwo)) }()
	require.True(t, gate.Wait(10*time.Second), "both operations' calls were at the upstream at once")

	answers := batchTotals(t, <-done)
	for i, id := range []int64{1, 2} {
		require.Empty(t, answers[i].Errors)
		var got struct {
			User struct{ Meetings struct{ TotalCount int } }
		}
		require.NoError(t, json.Unmarshal(answers[i].Data, &got))
		assert.Equal(t, len(user(t, e.data, id).Meetings), got.User.Meetings.TotalCount, "answer %d is operation %d's", i, i)
	}
	assert.Equal(t, 2, e.upstream.Calls())
}

// TestBatchSharesOneCallBudget: operations running concurrently still draw
// on one budget of upstream calls for the request.
func TestBatchSharesOneCallBudget(t *testing.T) {
	e := newEnv(t, withGraph(func(o *graph.Options) { o.Batching, o.MaxUpstreamCallsPerOperation = true, 1 }))
	answers := batchTotals(t, e.send(postReq(batchOfTwo)))
	var refused int
	for _, a := range answers {
		for _, err := range a.Errors {
			assert.Equal(t, graph.CodeUpstreamBudget, err.code())
			refused++
		}
	}
	assert.Equal(t, 1, refused, "one of the two calls is over the request's budget: %+v", answers)
	assert.Equal(t, 1, e.upstream.Calls())
}
