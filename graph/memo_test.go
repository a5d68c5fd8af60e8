package graph_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
)

// TestRememberedChecksAnswerAsTheFirstTime: the argument check and the
// estimate of an operation without variables are remembered with its
// document (gqlhttp.Memo), yet every request is answered as if they ran:
// a refused operation is refused each time, the estimate still draws on
// each request's budget (two copies of an operation in a batch, each
// within the budget, are not both), and an operation with variables is
// checked with each request's values.
func TestRememberedChecksAnswerAsTheFirstTime(t *testing.T) {
	e := newSecureEnv(t, withGraph(func(o *graph.Options) {
		o.MaxUpstreamCalls, o.Batching = 3, true
	}))
	costsTwo := `{ user(id: "1") { meetings { totalCount } threads(first: 20) { totalCount } } }`
	require.Equal(t, 2, estimateOf(t, costsTwo, nil), "the fake's dataset: one meetings call, one threads page")
	for range 2 {
		res := e.send(postReq(body(costsTwo, nil)))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Empty(t, res.errors)
	}
	for range 2 {
		e.upstream.Reset()
		res := e.send(postReq(`[` + body(costsTwo, nil) + `,` + body(costsTwo, nil) + `]`))
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		var answers []gqlResponse
		require.NoError(t, json.Unmarshal(res.body, &answers))
		require.Len(t, answers, 2)
		assert.Empty(t, answers[0].Errors)
		require.Len(t, answers[1].Errors, 1, "the budget's third call is not enough: %s", res.body)
		assert.Equal(t, graph.CodeUpstreamBudget, answers[1].Errors[0].code())
		assert.Equal(t, 2, e.upstream.Calls())
	}

	bad := `{ a: user(id: "1") { id } b: user(id: "2") { m: meetings(first: -1) { totalCount } } }`
	for range 3 {
		res := e.send(postReq(body(bad, nil)))
		assert.Equal(t, graph.CodeBadUserInput, res.code(), "%s", res.body)
		assert.False(t, res.hasData, "refused before execution: %s", res.body)
		require.Len(t, res.errors, 1)
		assert.Equal(t, []any{"b", "m"}, res.errors[0].Path, "the refused field's response keys")
	}

	byVar := `query($id: ID!) { user(id: $id) { id } }`
	res := e.send(postReq(body(byVar, map[string]any{"id": "7"})))
	require.Empty(t, res.errors, "%s", res.body)
	assert.JSONEq(t, `{"user": {"id": "7"}}`, string(res.data))
	res = e.send(postReq(body(byVar, map[string]any{"id": "-7"})))
	assert.Equal(t, graph.CodeBadUserInput, res.code(), "%s", res.body)
	assert.False(t, res.hasData, "refused before execution: %s", res.body)
}
