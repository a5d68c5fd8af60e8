package gqlhttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// queryReq is a QUERY request (RFC 10008) with body and Content-Type:
// application/json, then the given header pairs ("" removes a header).
func queryReq(body string, headers ...string) *http.Request {
	r := httptest.NewRequest(gqlhttp.MethodQuery, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return withHeaders(r, headers)
}

// TestQueryMethod: QUERY is a POST for queries: the same body, media type,
// limits and persisted-operation rules, and a mutation is 405 before any
// resolver runs.
func TestQueryMethod(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.MaxRequestBytes = 200 })

	res := e.send(queryReq(body(`{ item(id: "4") { name } }`, nil)))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.JSONEq(t, `{"item":{"name":"item 4"}}`, string(res.data))

	calls := e.calls()
	res = e.send(queryReq(body(`mutation { touch }`, nil)))
	assert.Equal(t, http.StatusMethodNotAllowed, res.status)
	assert.Equal(t, gqlhttp.CodeMethodNotAllowed, res.code())
	assert.Equal(t, "POST", res.header.Get("Allow"))
	assert.Contains(t, res.errors[0].Message, "QUERY runs only queries")
	res = e.send(queryReq(body(`mutation { touch }`, nil), "Accept", "application/json"))
	assert.Equal(t, http.StatusMethodNotAllowed, res.status, "405 whatever the media type, as for GET")
	assert.Equal(t, calls, e.calls(), "no resolver ran for a mutation over QUERY")

	// The same CSRF rule as POST: a body that is not JSON is refused.
	res = e.send(queryReq(body(`{ hello }`, nil), "Content-Type", "text/plain"))
	assert.Equal(t, http.StatusUnsupportedMediaType, res.status)
	assert.Equal(t, gqlhttp.CodeUnsupportedMediaType, res.code())
	// The same body limit.
	res = e.send(queryReq(body(`{ echo(text: "`+strings.Repeat("x", 300)+`") }`, nil)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status)
	assert.Equal(t, gqlhttp.CodeRequestTooLarge, res.code())
	// The same document limits and persisted queries.
	res = e.send(queryReq(pqBody(sha(`{ hello }`), "")))
	assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, res.code())
	res = e.send(queryReq(pqBody(sha(`{ hello }`), `{ hello }`)))
	assert.JSONEq(t, `{"hello":"hello"}`, string(res.data), "%s", res.body)
	res = e.send(queryReq(pqBody(sha(`{ hello }`), "")))
	assert.JSONEq(t, `{"hello":"hello"}`, string(res.data), "registered over QUERY, found over QUERY")
	assert.Equal(t, calls, e.calls()-2, "only the two queries ran resolvers")
}

func TestQueryMethodAllowList(t *testing.T) {
	const allowed = `{ hello }`
	e := newEnv(t, func(o *gqlhttp.Options) { o.AllowedOperations = map[string]string{sha(allowed): allowed} })
	res := e.send(queryReq(body(allowed, nil)))
	assert.JSONEq(t, `{"hello":"hello"}`, string(res.data), "%s", res.body)
	res = e.send(queryReq(body(`{ item(id: "1") { id } }`, nil)))
	assert.Equal(t, http.StatusForbidden, res.status)
	assert.Equal(t, gqlhttp.CodeOperationNotAllowed, res.code())
}

// TestQueryMethodBatch: a batch over QUERY runs queries only.
func TestQueryMethodBatch(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.Batching = true })
	calls := e.calls()
	res := e.send(queryReq(`[` + body(`{ hello }`, nil) + `,` + body(`mutation { touch }`, nil) + `]`))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.Len(t, res.errors, 1, "%s", res.body)
	assert.Equal(t, gqlhttp.CodeMethodNotAllowed, res.errors[0].code())
	assert.Equal(t, calls+1, e.calls(), "the query ran, the mutation did not")
}

// TestQueryMethodCORS: a preflight may ask for QUERY, and the answer to a
// cross-origin QUERY is readable.
func TestQueryMethodCORS(t *testing.T) {
	const app = "https://app.example.com"
	e := newEnv(t, func(o *gqlhttp.Options) { o.AllowedOrigins = []string{app} })
	pre := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
	pre.Header.Set("Origin", app)
	pre.Header.Set("Access-Control-Request-Method", gqlhttp.MethodQuery)
	pre.Header.Set("Access-Control-Request-Headers", "content-type")
	res := e.send(pre)
	assert.Equal(t, app, res.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "QUERY", res.header.Get("Access-Control-Allow-Methods"))

	res = e.send(queryReq(body(`{ hello }`, nil), "Origin", app))
	assert.Equal(t, app, res.header.Get("Access-Control-Allow-Origin"))
	assert.JSONEq(t, `{"hello":"hello"}`, string(res.data))
}

func httptestRequest(method string) *http.Request {
	return httptest.NewRequest(method, "/graphql", nil)
}
