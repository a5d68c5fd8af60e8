package graph_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// costQuery asks for 5 meetings and the last 3 of 47 threads of user 3:
// one meetings call, and threads pages 1 (the total) and 3 (the window),
// where the estimate counts page 1 and the last two pages.
const costQuery = `{ user(id: "3") { meetings(first: 5) { nodes { id } } threads(last: 3) { nodes { id } } } }`

func costEnv(t *testing.T, opts ...envOption) *env {
	return newSecureEnv(t, append([]envOption{withFake(fakeapi.WithThreadsPerUser(47), fakeapi.WithPerPage(20))}, opts...)...)
}

// postWith posts query with the request extensions ext and decodes the
// whole answer.
func (e *env) postWith(query string, ext map[string]any) map[string]any {
	e.t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "extensions": ext})
	require.NoError(e.t, err)
	res := e.send(postReq(string(b)))
	var out map[string]any
	require.NoError(e.t, json.Unmarshal(res.body, &out), "%s", res.body)
	return out
}

// TestCostExtensionReportsEstimateAndActual: asked for, extensions.cost
// holds the estimate, the calls the fake counted and the fields the data
// holds; not asked for, the response has no extensions.
func TestCostExtensionReportsEstimateAndActual(t *testing.T) {
	e := costEnv(t)
	meetings := min(5, len(user(t, e.data, 3).Meetings))
	// user, meetings, nodes, threads, nodes, and an id per item.
	wantFields := 5 + meetings + 3

	out := e.postWith(costQuery, map[string]any{"cost": true})
	require.Nil(t, out["errors"])
	assert.Equal(t, 3, e.upstream.Calls(), "meetings, threads pages 1 and 3")
	cost := out["extensions"].(map[string]any)["cost"]
	assert.Equal(t, map[string]any{
		"estimated": map[string]any{"responseFields": float64(5 + 5 + 3), "upstreamCalls": float64(1 + 3)},
		"actual":    map[string]any{"responseFields": float64(wantFields), "upstreamCalls": float64(e.upstream.Calls())},
		"budgets":   map[string]any{"maxComplexity": float64(500000), "maxUpstreamCalls": float64(500), "maxUpstreamCallsPerOperation": float64(500)},
	}, cost)

	e.upstream.Reset()
	out = e.postWith(costQuery, nil)
	assert.NotContains(t, out, "extensions", "only on request")
	assert.Equal(t, 3, e.upstream.Calls())
}

// TestRefusalsNameTheirBudget: each budget refusal says which budget, its
// size, the estimate and by how much it is exceeded, before any call; the
// run-time bound on an operation's calls names its budget too.
func TestRefusalsNameTheirBudget(t *testing.T) {
	cases := []struct {
		name string
		opt  func(*graph.Options)
		code string
		ext  map[string]any
	}{
		{"upstream calls", func(o *graph.Options) { o.MaxUpstreamCalls = 3 }, graph.CodeUpstreamBudget,
			map[string]any{"budget": "maxUpstreamCalls", "limit": float64(3), "estimate": float64(4), "exceededBy": float64(1)}},
		// The estimate stops counting once over the limit: at least 11.
		{"response fields", func(o *graph.Options) { o.MaxComplexity = 12 }, graph.CodeComplexityLimit,
			map[string]any{"budget": "maxComplexity", "limit": float64(12), "estimate": float64(13), "exceededBy": float64(1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := costEnv(t, withGraph(c.opt))
			res := e.send(postReq(body(costQuery, nil)))
			require.Len(t, res.errors, 1, "%s", res.body)
			ext := res.errors[0].Extensions
			assert.Equal(t, c.code, ext["code"])
			for k, v := range c.ext {
				assert.Equal(t, v, ext[k], k)
			}
			assert.Zero(t, e.upstream.Calls())
		})
	}

	t.Run("a document that reaches the limit part way is counted to the end", func(t *testing.T) {
		// The walk used to stop counting at the limit, not over it: a
		// document whose first fields reached the limit exactly passed
		// whatever the rest held.
		e := costEnv(t, withGraph(func(o *graph.Options) { o.MaxComplexity = 10 }))
		res := e.send(postReq(body(costQuery, nil)))
		require.Len(t, res.errors, 1, "%s", res.body)
		assert.Equal(t, graph.CodeComplexityLimit, res.errors[0].code())
		assert.Zero(t, e.upstream.Calls())
	})

	t.Run("calls made beyond the per-operation bound", func(t *testing.T) {
		e := costEnv(t, withGraph(func(o *graph.Options) { o.MaxUpstreamCallsPerOperation = 1 }))
		res := e.send(postReq(body(`{ users(ids: ["1", "2"]) { meetings { totalCount } } }`, nil)))
		require.Len(t, res.errors, 1, "%s", res.body)
		assert.Equal(t, graph.CodeUpstreamBudget, res.errors[0].code())
		assert.Equal(t, "maxUpstreamCallsPerOperation", res.errors[0].Extensions["budget"])
		assert.Equal(t, float64(1), res.errors[0].Extensions["limit"])
		assert.Equal(t, 1, e.upstream.Calls())
	})
}
