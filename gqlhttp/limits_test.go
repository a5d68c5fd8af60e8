package gqlhttp_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// fieldFanOut selects 7 item fields 10^k times, through fragments each
// spread ten times by the next.
func fieldFanOut(k int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{ item(id: "1") { children { ...F%d } } }`, k)
	b.WriteString(` fragment F0 on Item { id name color tags fail slow __typename }`)
	for i := 1; i <= k; i++ {
		fmt.Fprintf(&b, " fragment F%d on Item {%s }", i, strings.Repeat(fmt.Sprintf(" ...F%d", i-1), 10))
	}
	return b.String()
}

func TestLimitsAreEnforcedBeforeAnyResolver(t *testing.T) {
	e := newEnv(t)
	q := func(query string, vars map[string]any) *http.Request { return postReq(body(query, vars)) }
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"body over 1 MiB", postReq(`{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`), 413, gqlhttp.CodeRequestTooLarge},
		{"15,001 tokens", q("{"+strings.Repeat(" __typename", 15000)+" }", nil), 400, gqlhttp.CodeTokenLimit},
		{"10,000 nested braces", q(strings.Repeat("{", 10000)+strings.Repeat("}", 10000), nil), 400, gqlhttp.CodeDepthLimit},
		{"10,000 nested lists", q(`{ items(ids: `+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`) { id } }`, nil), 400, gqlhttp.CodeDepthLimit},
		{"depth 16", q(deepQuery(16), nil), 400, gqlhttp.CodeDepthLimit},
		{"depth 16 through fragments", q(`{ item(id: "1") { ...A } } fragment A on Item { children { parent { ...B } } } fragment B on Item { children { ...C } }
			fragment C on Item { children { parent { children { parent { children { parent { children { parent { children { parent { children { id } } } } } } } } } } } }`, nil), 400, gqlhttp.CodeDepthLimit},
		{"31 aliases", q(`{ item(id: "1") {`+repeat(" a%d: id", 31)+` } }`, nil), 400, gqlhttp.CodeAliasLimit},
		{"31 aliases through a fragment spread twice", q(`{ a: item(id: "1") { ...F } b: item(id: "2") { ...F } } fragment F on Item {`+repeat(" x%d: id", 15)+` }`, nil), 400, gqlhttp.CodeAliasLimit},
		{"21 root fields", q(`{`+repeat(" a%d: __typename", 21)+` }`, map[string]any{}), 400, gqlhttp.CodeRootFieldLimit},
		{"7,000 fields of one name", q("{ item(id: \"1\") {"+strings.Repeat(" id", 7000)+" } }", nil), 400, gqlhttp.CodeFieldLimit},
		{"7,000 fields through fragments", q(fieldFanOut(3), nil), 400, gqlhttp.CodeFieldLimit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.send(c.req)
			assert.Equal(t, c.status, res.status, "%.300s", res.body)
			require.True(t, res.isJSON)
			assert.Equal(t, c.code, res.code(), "%.300s", res.body)
			assert.False(t, res.hasData, "a refused request has no data member")
			assert.Less(t, len(res.body), 1024, "a refusal is short: %s", res.body)
			if c.status == 400 {
				assert.NotNil(t, res.errors[0].Extensions["limit"], "the limit is named: %s", res.body)
			}
			assert.Zero(t, e.calls(), "no resolver ran")
		})
	}
}

func TestLimitsAreConfigurable(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) {
		o.MaxDepth, o.MaxAliases, o.MaxRootFields, o.MaxFields, o.MaxTokens = 4, 2, 2, 12, 60
		o.MaxRequestBytes = 400
	})
	cases := []struct {
		name       string
		ok, tooBig string
		code       string
	}{
		{"depth", `{ item(id: "1") { children { parent { id } } } }`, `{ item(id: "1") { children { parent { children { id } } } } }`, gqlhttp.CodeDepthLimit},
		{"aliases", `{ item(id: "1") { a: id b: id } }`, `{ item(id: "1") { a: id b: id c: id } }`, gqlhttp.CodeAliasLimit},
		{"root fields", `{ __typename item(id: "1") { id } }`, `{ __typename item(id: "1") { id } items(ids: []) { id } }`, gqlhttp.CodeRootFieldLimit},
		{"fields", `{ item(id: "1") { id name children { id } } }`, `{ item(id: "1") { ...F ...F } } fragment F on Item { id name children { id name color } }`, gqlhttp.CodeFieldLimit},
		{"tokens", `{` + strings.Repeat(" __typename", 2) + ` }`, `{ item(id: "1") {` + strings.Repeat(" id", 60) + ` } }`, gqlhttp.CodeTokenLimit},
		{"request bytes", `{ __typename }`, `{ __typename }` + strings.Repeat(" ", 400), gqlhttp.CodeRequestTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.post(c.ok, nil)
			assert.Equal(t, http.StatusOK, res.status, "%s", res.body)
			assert.Empty(t, res.errors)
			before := e.calls()
			res = e.post(c.tooBig, nil)
			assert.Equal(t, c.code, res.code(), "%s", res.body)
			assert.Equal(t, before, e.calls())
		})
	}
}

func TestIntrospectionAndSuggestions(t *testing.T) {
	introspect := []string{
		`{ __schema { queryType { name } } }`,
		`{ __type(name: "Item") { name } }`,
		`{ ...F } fragment F on Query { ... on Query { __schema { types { name } } } }`,
	}
	t.Run("off by default", func(t *testing.T) {
		e := newEnv(t)
		for _, q := range introspect {
			res := e.post(q, nil)
			assert.Equal(t, http.StatusBadRequest, res.status, q)
			assert.Equal(t, gqlhttp.CodeIntrospectionDisabled, res.code(), q)
			assert.NotContains(t, string(res.body), "GREEN")
		}
		res := e.post(`{ __typename }`, nil)
		assert.JSONEq(t, `{"__typename": "Query"}`, string(res.data), "__typename is not introspection")

		res = e.post(`{ item(id: "1") { nam } }`, nil)
		assert.Equal(t, gqlhttp.CodeValidationFailed, res.code())
		assert.NotContains(t, res.errors[0].Message, "Did you mean", "no suggestions")
		res = e.post(`{ items(ids: [], filter: {colors: [REDD]}) { id } }`, nil)
		assert.Equal(t, gqlhttp.CodeValidationFailed, res.code())
		assert.NotContains(t, string(res.body), "Did you mean")
	})
	t.Run("on when configured", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.Introspection, o.Suggestions = true, true })
		for _, q := range introspect {
			res := e.post(q, nil)
			assert.Empty(t, res.errors, q)
			assert.Equal(t, http.StatusOK, res.status)
		}
		res := e.post(`{ item(id: "1") { nam } }`, nil)
		assert.Contains(t, res.errors[0].Message, `Did you mean "name"?`)
	})
	t.Run("introspection nesting is bounded", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.Introspection = true })
		res := e.post(`{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`, nil)
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeValidationFailed, res.code())
		assert.Contains(t, res.errors[0].Message, "Maximum introspection depth exceeded")
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

func TestTheIDEsIntrospectionFitsTheDefaultLimits(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.Introspection = true })
	res := e.post(graphiQLIntrospection, nil, "Accept", "application/json, multipart/mixed")
	assert.Equal(t, http.StatusOK, res.status)
	require.Empty(t, res.errors, "%.500s", res.body)
	assert.Contains(t, string(res.data), `"name":"Item"`)

	e = newEnv(t, func(o *gqlhttp.Options) { o.Introspection, o.MaxDepth = true, 14 })
	res = e.post(graphiQLIntrospection, nil)
	assert.Equal(t, gqlhttp.CodeDepthLimit, res.code(), "15 deep: one level less refuses it")
}

// TestMeasuresSaturate: sums and products of measures (every one the
// result of another, or a count) stop at the cap instead of wrapping, and the cap reads as such in a message; the
// endpoint's limits and the sales schema's estimate count with the same
// functions.
func TestMeasuresSaturate(t *testing.T) {
	const huge = int64(1) << 62
	capped := gqlhttp.SatMul(huge, 2)
	for _, tc := range []struct {
		name string
		got  int64
		want string
	}{
		{"a sum", gqlhttp.SatAdd(2, 3), "5"},
		{"a product", gqlhttp.SatMul(4, 5), "20"},
		{"a product by zero", gqlhttp.SatMul(huge, 0), "0"},
		{"a sum of capped measures", gqlhttp.SatAdd(capped, capped), "more than a trillion"},
		{"a product that would wrap", gqlhttp.SatMul(huge, 4), "more than a trillion"},
		{"a product past the cap", gqlhttp.SatMul(1<<30, 1<<30), "more than a trillion"},
		{"the cap, plus one", gqlhttp.SatAdd(gqlhttp.SatMul(1<<30, 1<<30), 1), "more than a trillion"},
		{"a trillion", gqlhttp.SatMul(1_000_000, 1_000_000), "1000000000000"},
	} {
		assert.Equal(t, tc.want, gqlhttp.FormatCount(tc.got), tc.name)
		assert.Positive(t, tc.got+1, "%s: never wrapped", tc.name)
	}
	assert.Equal(t, gqlhttp.SatAdd(capped, 1), capped, "one cap for sums and products")
}
