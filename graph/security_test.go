package graph_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// The sales schema's request limits: the cost estimate and the argument
// checks, behind gqlhttp's endpoint (whose own tests cover the transport,
// the document limits, CSRF, CORS, batching and introspection).

// TestSalesRefusalsHaveTheirStatus: the codes of the sales schema's own
// refusals get gqlhttp's statuses (400 with
// application/graphql-response+json, 200 with application/json), and a
// field error keeps its data.
func TestSalesRefusalsHaveTheirStatus(t *testing.T) {
	e := newSecureEnv(t)
	cases := []struct {
		name           string
		query          string
		status, legacy int
		code           string
		data           bool
	}{
		{"field error keeps data", `{ user(id: "2") { meetings { totalCount } } }`, 200, 200, graph.CodeUpstreamUnavailable, true},
		{"invalid argument", `{ user(id: "abc") { id } }`, 400, 200, graph.CodeBadUserInput, false},
		{"over the upstream budget", `query($ids: [ID!]!) { users(ids: $ids) { meetings(first: 1) { totalCount } threads(first: 100) { totalCount } } }`, 400, 200, graph.CodeUpstreamBudget, false},
	}
	for _, c := range cases {
		for _, accept := range []string{"", "application/json"} {
			t.Run(c.name+" "+accept, func(t *testing.T) {
				e.upstream.Reset()
				e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/2/meetings", Kind: fakeapi.FaultStatus, Status: 503})
				res := e.send(postReq(body(c.query, map[string]any{"ids": userIDs(100)}), "Accept", accept))
				want := c.status
				if accept != "" {
					want = c.legacy
				}
				assert.Equal(t, want, res.status, "%s", res.body)
				assert.Equal(t, c.code, res.code(), "%s", res.body)
				assert.Equal(t, c.data, res.hasData, "%s", res.body)
				if !c.data {
					assert.Zero(t, e.upstream.Calls(), "refused before any upstream call")
				}
			})
		}
	}
}

// deepQuery nests n fields: user → meetings → nodes → user → meetings …
func deepQuery(n int) string {
	levels := []string{"meetings", "nodes", "user"}
	var b strings.Builder
	b.WriteString(`{ user(id: "1") {`)
	for i := 0; i < n-2; i++ {
		b.WriteString(" " + levels[i%3] + " {")
	}
	b.WriteString(" id" + strings.Repeat(" }", n-1) + " }")
	return b.String()
}

// TestLimitsAreEnforcedBeforeAnyUpstreamCall: the estimate's limits and the
// argument checks, and gqlhttp's document limits in front of them (tested
// in full there), refuse before anything reaches the upstream.
func TestLimitsAreEnforcedBeforeAnyUpstreamCall(t *testing.T) {
	e := newSecureEnv(t)
	q := func(query string, vars map[string]any) *http.Request { return postReq(body(query, vars)) }
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"body over 1 MiB", postReq(`{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`), 413, gqlhttp.CodeRequestTooLarge},
		{"depth 16", q(deepQuery(16), nil), 400, gqlhttp.CodeDepthLimit},
		{"complexity", q(`query($ids: [ID!]!) { users(ids: $ids) { meetings(first: 100) { nodes { user { meetings(first: 100) { nodes { id } } } } } } }`, map[string]any{"ids": userIDs(100)}), 400, graph.CodeComplexityLimit},
		{"upstream calls", q(`query($ids: [ID!]!) { users(ids: $ids) { meetings(first: 1) { totalCount } threads(first: 100) { totalCount } } }`, map[string]any{"ids": userIDs(100)}), 400, graph.CodeUpstreamBudget},
		{"first over 100", q(`{ user(id: "1") { meetings(first: 101) { totalCount } } }`, nil), 400, graph.CodeBadUserInput},
		{"101 ids", q(`query($ids: [ID!]!) { users(ids: $ids) { id } }`, map[string]any{"ids": userIDs(101)}), 400, graph.CodeBadUserInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.upstream.Reset()
			res := e.send(c.req)
			assert.Equal(t, c.status, res.status, "%.300s", res.body)
			require.True(t, res.isJSON)
			assert.Equal(t, c.code, res.code(), "%.300s", res.body)
			assert.False(t, res.hasData, "a refused request has no data member")
			assert.Less(t, len(res.body), 1024, "a refusal is short: %s", res.body)
			assert.Zero(t, e.upstream.Calls(), "no upstream call")
		})
	}
}

// TestLimitsAreConfigurable: the estimate's limits (gqlhttp's are tested
// there).
func TestLimitsAreConfigurable(t *testing.T) {
	e := newSecureEnv(t, withGraph(func(o *graph.Options) {
		o.MaxComplexity, o.MaxUpstreamCalls = 300, 3
	}))
	cases := []struct {
		name       string
		ok, tooBig string
		code       string
	}{
		{"complexity", `{ user(id: "1") { meetings(first: 100) { nodes { id hash } } } }`, `{ user(id: "1") { meetings(first: 100) { nodes { id hash status } } } }`, graph.CodeComplexityLimit},
		{"upstream calls", `{ user(id: "1") { meetings { totalCount } threads(first: 40) { totalCount } } }`, `{ user(id: "1") { meetings { totalCount } threads(first: 41) { totalCount } } }`, graph.CodeUpstreamBudget},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.send(postReq(body(c.ok, nil)))
			assert.Equal(t, http.StatusOK, res.status, "%s", res.body)
			assert.Empty(t, res.errors)
			e.upstream.Reset()
			res = e.send(postReq(body(c.tooBig, nil)))
			assert.Equal(t, c.code, res.code(), "%s", res.body)
			assert.Zero(t, e.upstream.Calls())
		})
	}
}

// estimateOf returns the upstream calls the facade estimates for a query,
// from the error it answers with a budget of one call.
func estimateOf(t *testing.T, query string, vars map[string]any) int {
	t.Helper()
	e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.MaxUpstreamCalls = 1 }))
	res := e.send(postReq(body(query, vars)))
	if res.code() == "" {
		return 1 // within the budget of one
	}
	require.Equal(t, graph.CodeUpstreamBudget, res.code(), "%s", res.body)
	n, ok := res.errors[0].Extensions["estimate"].(float64)
	require.True(t, ok)
	return int(n)
}

func TestUpstreamCallEstimateAgreesWithTheLoaders(t *testing.T) {
	first := newSecureEnv(t)
	var page struct {
		User struct {
			Threads struct{ PageInfo struct{ EndCursor string } }
		}
	}
	first.ok(`{ user(id: "5") { threads(first: 25) { pageInfo { endCursor } } } }`, nil, &page)
	cursor := page.User.Threads.PageInfo.EndCursor
	require.NotEmpty(t, cursor)

	cases := []struct {
		name  string
		query string
		vars  map[string]any
		exact bool // the estimate is the count, not just a bound
	}{
		{"meetings of ten users", `query($ids: [ID!]!) { users(ids: $ids) { meetings { totalCount } } }`, map[string]any{"ids": userIDs(10)}, true},
		{"repeated ids fetched once", `query($ids: [ID!]!) { users(ids: $ids) { threads(first: 45) { totalCount } } }`, map[string]any{"ids": []string{"1", "2", "3", "1", "2"}}, true},
		{"meetings and one page", `{ user(id: "1") { meetings { totalCount } threads(first: 5) { totalCount } } }`, nil, true},
		{"two fields on one user share calls", `{ a: user(id: "1") { meetings { totalCount } } b: user(id: "1") { meetings(first: 2) { totalCount } threads { totalCount } } }`, nil, true},
		{"a cursor's pages", `query($after: String) { user(id: "5") { threads(first: 30, after: $after) { totalCount } } }`, map[string]any{"after": cursor}, true},
		{"nested users are the same user", `{ user(id: "1") { meetings { nodes { user { meetings { totalCount } } } } } }`, nil, true},
		{"thread lookups", `query($ids: [ID!]!) { users(ids: $ids) { meetings(first: 100) { nodes { thread { name } } } } }`, map[string]any{"ids": userIDs(8)}, false},
		{"thread meetings", `{ user(id: "4") { threads(first: 45) { nodes { meetings { id } } } } }`, nil, true},
		{"nothing to fetch", `{ user(id: "1") { id globalId } }`, nil, true},
		{"the last threads", `{ user(id: "5") { threads(last: 3) { totalCount } } }`, nil, false},
		{"before a cursor, its pages", `query($before: String) { user(id: "5") { threads(last: 10, before: $before) { totalCount } } }`, map[string]any{"before": cursor}, true},
		{"a status filter, every page", `{ user(id: "5") { threads(status: ["won"]) { totalCount } } }`, nil, false},
		{"nodes of three owners", `query($ids: [ID!]!) { nodes(ids: $ids) { globalId } }`, map[string]any{"ids": []string{
			model.EncodeGlobalID("Meeting", "1:1"), model.EncodeGlobalID("Meeting", "2:1"), model.EncodeGlobalID("Meeting", "2:2"), model.EncodeGlobalID("User", "3"),
		}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSecureEnv(t)
			res := e.send(postReq(body(c.query, c.vars)))
			require.Empty(t, res.errors, "%s", res.body)
			actual := e.upstream.Calls()
			est := estimateOf(t, c.query, c.vars)
			if actual == 0 {
				assert.LessOrEqual(t, est, 1)
				return
			}
			if c.exact {
				assert.Equal(t, actual, est, "estimate")
			} else {
				assert.GreaterOrEqual(t, est, actual, "the estimate bounds the calls")
			}
			// With exactly the estimate as the budget the query runs.
			e = newSecureEnv(t, withGraph(func(o *graph.Options) { o.MaxUpstreamCalls = est }))
			res = e.send(postReq(body(c.query, c.vars)))
			assert.Empty(t, res.errors, "%s", res.body)
		})
	}
}

// TestBatching: the operations of a batch share the request's upstream
// budget (gqlhttp's tests cover batching itself).
func TestBatching(t *testing.T) {
	t.Run("the operations of a batch share one upstream budget", func(t *testing.T) {
		e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.Batching, o.MaxBatchSize, o.MaxUpstreamCalls = true, 3, 15 }))
		ten := `query($ids: [ID!]!) { users(ids: $ids) { meetings { totalCount } } }`
		items, _ := json.Marshal([]map[string]any{
			{"query": ten, "variables": map[string]any{"ids": userIDs(10)}},
			{"query": ten, "variables": map[string]any{"ids": []string{"11", "12", "13", "14", "15", "16", "17", "18", "19", "20"}}},
		})
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, postReq(string(items)))
		var two []struct{ Errors []gqlError }
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &two))
		require.Len(t, two, 2)
		assert.Empty(t, two[0].Errors)
		require.Len(t, two[1].Errors, 1)
		assert.Equal(t, graph.CodeUpstreamBudget, two[1].Errors[0].code())
		assert.Equal(t, 10, e.upstream.Calls(), "only the first operation ran")
	})
}

// graphiQLIntrospection is the query the IDE sends (GraphiQL with
// schemaDescription and inputValueDeprecation): fields nest exactly 15
// deep, the default MaxDepth.
var graphiQLIntrospection = `query IntrospectionQuery {
  __schema {
    description
    queryType { name kind }
    mutationType { name kind }
    subscriptionType { name kind }
    types { ...FullType }
    directives { name description locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}`

// TestTheIDEsIntrospectionFitsTheDefaultLimits: the sales schema's
// introspection, as the IDE asks for it, passes the cost estimate too.
func TestTheIDEsIntrospectionFitsTheDefaultLimits(t *testing.T) {
	e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.Introspection = true }))
	res := e.send(postReq(body(graphiQLIntrospection, nil), "Accept", "application/json, multipart/mixed"))
	assert.Equal(t, http.StatusOK, res.status)
	require.Empty(t, res.errors, "%.500s", res.body)
	assert.Contains(t, string(res.data), `"name":"MeetingConnection"`)

}
