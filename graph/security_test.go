package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient/resttest"
)

// httpResult is an HTTP response of the handler, decoded when it is JSON.
type httpResult struct {
	status  int
	header  http.Header
	body    []byte
	hasData bool
	data    json.RawMessage
	errors  []gqlError
	isJSON  bool
}

func (r *httpResult) code() string {
	if len(r.errors) == 0 {
		return ""
	}
	return r.errors[0].code()
}

// send serves req and decodes the answer.
func (e *env) send(req *http.Request) *httpResult {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return decodeResult(rec.Code, rec.Header(), rec.Body.Bytes())
}

func decodeResult(status int, h http.Header, body []byte) *httpResult {
	res := &httpResult{status: status, header: h, body: body}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		res.isJSON = true
		res.data, res.hasData = m["data"]
		_ = json.Unmarshal(m["errors"], &res.errors)
	}
	// A batch's answer: its responses' errors, in order (batchAnswers
	// reads them one by one).
	var batch []struct {
		Data   *json.RawMessage `json:"data"`
		Errors []gqlError       `json:"errors"`
	}
	if json.Unmarshal(body, &batch) == nil {
		res.isJSON = true
		for _, r := range batch {
			res.hasData = res.hasData || r.Data != nil
			res.errors = append(res.errors, r.Errors...)
		}
	}
	return res
}

// postReq is a POST of body with Content-Type: application/json and the
// demo credential, then the given header pairs ("" removes a header).
func postReq(body string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", resttest.DefaultToken)
	return withHeaders(r, headers)
}

// getReq is a GET with the given URL query, the demo credential and a
// preflight header, then the given header pairs.
func getReq(rawQuery string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/graphql?"+rawQuery, nil)
	r.Header.Set("Authorization", resttest.DefaultToken)
	r.Header.Set("Apollo-Require-Preflight", "true")
	return withHeaders(r, headers)
}

func withHeaders(r *http.Request, pairs []string) *http.Request {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			r.Header.Del(pairs[i])
		} else {
			r.Header.Set(pairs[i], pairs[i+1])
		}
	}
	return r
}

// body encodes a GraphQL request.
func body(query string, vars map[string]any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

// userIDs is "1" to n.
func userIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = itoa(int64(i + 1))
	}
	return out
}

const (
	grJSON   = "application/graphql-response+json; charset=utf-8"
	jsonType = "application/json; charset=utf-8"
)

func TestGraphQLOverHTTPStatusCodes(t *testing.T) {
	e := newSecureEnv(t)
	ok := body(`{ user(id: "1") { id } }`, nil)
	cases := []struct {
		name      string
		req       *http.Request
		status    int    // with Accept: application/graphql-response+json (or none)
		legacy    int    // with Accept: application/json; 0 when Accept is part of the case
		code      string // first error's code; "" for success
		data      bool   // the response has a data member
		allow     string
		mediaType string // when the case sets Accept itself
	}{
		{name: "success", req: postReq(ok), status: 200, legacy: 200, data: true},
		{name: "field error keeps data", req: postReq(body(`{ user(id: "2") { meetings { totalCount } } }`, nil)), status: 200, legacy: 200, code: graph.CodeUpstreamUnavailable, data: true},
		{name: "parse failure", req: postReq(body(`{`, nil)), status: 400, legacy: 200, code: gqlhttp.CodeParseFailed},
		{name: "validation failure", req: postReq(body(`{ user(id: "1") { nope } }`, nil)), status: 400, legacy: 200, code: gqlhttp.CodeValidationFailed},
		{name: "operation not found", req: postReq(`{"query":"query A { __typename }","operationName":"B"}`), status: 400, legacy: 200, code: gqlhttp.CodeValidationFailed},
		{name: "several operations, no name", req: postReq(`{"query":"query A { __typename } query B { __typename }"}`), status: 400, legacy: 200, code: gqlhttp.CodeValidationFailed},
		{name: "variable coercion failure", req: postReq(body(`query($f: Int) { user(id: "1") { meetings(first: $f) { totalCount } } }`, map[string]any{"f": "ten"})), status: 400, legacy: 200, code: graph.CodeBadUserInput},
		{name: "invalid argument", req: postReq(body(`{ user(id: "abc") { id } }`, nil)), status: 400, legacy: 200, code: graph.CodeBadUserInput},
		{name: "JSON parsing failure", req: postReq(`{"query":`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "not JSON", req: postReq(`NONSENSE`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "empty body", req: postReq(``), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "misspelt query", req: postReq(`{"qeury":"{ __typename }"}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "variables not an object", req: postReq(`{"query":"query Q($i: Int!) { __typename }","variables":[7]}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "query a number", req: postReq(`{"query":1}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "operationName an object", req: postReq(`{"query":"{ __typename }","operationName":{}}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "extensions a string", req: postReq(`{"query":"{ __typename }","extensions":"x"}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "trailing data", req: postReq(`{"query":"{ __typename }"} {}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "PUT", req: withHeaders(httptest.NewRequest(http.MethodPut, "/graphql", strings.NewReader(ok)), []string{"Content-Type", "application/json"}), status: 405, legacy: 405, code: gqlhttp.CodeMethodNotAllowed, allow: "GET, POST, OPTIONS"},
		{name: "DELETE", req: httptest.NewRequest(http.MethodDelete, "/graphql", nil), status: 405, legacy: 405, code: gqlhttp.CodeMethodNotAllowed, allow: "GET, POST, OPTIONS"},
		{name: "mutation over GET", req: getReq("query=" + url.QueryEscape(`mutation { x }`)), status: 405, legacy: 405, code: gqlhttp.CodeMethodNotAllowed, allow: "POST"},
		{name: "GET query", req: getReq("query=" + url.QueryEscape(`query($id: ID!) { user(id: $id) { id } }`) + "&variables=" + url.QueryEscape(`{"id":"3"}`)), status: 200, legacy: 200, data: true},
		{name: "GET variables not JSON", req: getReq("query=" + url.QueryEscape(`{ __typename }`) + "&variables=%7B"), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "GET query twice", req: getReq("query=" + url.QueryEscape(`{ __typename }`) + "&query=" + url.QueryEscape(`{ __typename }`)), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "no Content-Type", req: postReq(ok, "Content-Type", ""), status: 415, legacy: 415, code: gqlhttp.CodeUnsupportedMediaType},
		{name: "text/plain", req: postReq(ok, "Content-Type", "text/plain"), status: 415, legacy: 415, code: gqlhttp.CodeUnsupportedMediaType},
		{name: "form", req: postReq(ok, "Content-Type", "application/x-www-form-urlencoded"), status: 415, legacy: 415, code: gqlhttp.CodeUnsupportedMediaType},
		{name: "multipart", req: postReq(ok, "Content-Type", "multipart/form-data; boundary=x"), status: 415, legacy: 415, code: gqlhttp.CodeUnsupportedMediaType},
		{name: "application/graphql", req: postReq(ok, "Content-Type", "application/graphql"), status: 415, legacy: 415, code: gqlhttp.CodeUnsupportedMediaType},
		{name: "JSON in Latin-1", req: postReq(ok, "Content-Type", "application/json; charset=iso-8859-1"), status: 415, legacy: 415, code: gqlhttp.CodeUnsupportedMediaType},
		{name: "JSON in UTF-8", req: postReq(ok, "Content-Type", "application/json; charset=UTF-8"), status: 200, legacy: 200, data: true},
		{name: "Accept HTML only", req: postReq(ok, "Accept", "text/html"), status: 406, code: gqlhttp.CodeNotAcceptable, mediaType: jsonType},
		{name: "Accept JSON refused", req: postReq(ok, "Accept", "application/json;q=0, application/graphql-response+json;q=0"), status: 406, code: gqlhttp.CodeNotAcceptable, mediaType: jsonType},
		{name: "Accept JSON in Latin-1", req: postReq(ok, "Accept", "application/json; charset=iso-8859-1"), status: 406, code: gqlhttp.CodeNotAcceptable, mediaType: jsonType},
		{name: "Accept anything", req: postReq(body(`{`, nil), "Accept", "*/*"), status: 400, code: gqlhttp.CodeParseFailed, mediaType: grJSON},
		{name: "Accept like axios", req: postReq(body(`{`, nil), "Accept", "application/json, text/plain, */*"), status: 200, code: gqlhttp.CodeParseFailed, mediaType: jsonType},
		{name: "Accept like GraphiQL", req: postReq(body(`{`, nil), "Accept", "application/json, multipart/mixed"), status: 200, code: gqlhttp.CodeParseFailed, mediaType: jsonType},
		{name: "Accept both, JSON preferred", req: postReq(body(`{`, nil), "Accept", "application/graphql-response+json;q=0.5, application/json"), status: 200, code: gqlhttp.CodeParseFailed, mediaType: jsonType},
		{name: "Accept both, recommended header", req: postReq(body(`{`, nil), "Accept", "application/graphql-response+json; charset=utf-8, application/json; charset=utf-8"), status: 400, code: gqlhttp.CodeParseFailed, mediaType: grJSON},
	}
	for _, c := range cases {
		accepts := []struct{ accept, mediaType string }{{"", grJSON}}
		if c.mediaType == "" {
			accepts = append(accepts, struct{ accept, mediaType string }{mediaJSONAccept, jsonType})
		} else {
			accepts[0].mediaType = c.mediaType
		}
		for i, a := range accepts {
			name := c.name
			if a.accept != "" {
				name += " (Accept: application/json)"
			}
			t.Run(name, func(t *testing.T) {
				req := c.req.Clone(c.req.Context())
				if c.req.Body != nil {
					// Clone shares the body: rebuild it for the second round.
					b, _ := readAllReset(c.req)
					req.Body = b
				}
				if a.accept != "" {
					req.Header.Set("Accept", a.accept)
				}
				e.upstream.Reset()
				e.upstream.Inject(resttest.Fault{Path: "/api/v1/users/2/meetings", Kind: resttest.FaultStatus, Status: 503})
				res := e.send(req)
				want := c.status
				if i == 1 {
					want = c.legacy
				}
				assert.Equal(t, want, res.status, "%s", res.body)
				assert.Equal(t, a.mediaType, res.header.Get("Content-Type"))
				assert.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"))
				require.True(t, res.isJSON, "the body is JSON: %s", res.body)
				assert.Equal(t, c.code, res.code(), "%s", res.body)
				assert.Equal(t, c.data, res.hasData, "data member present: %s", res.body)
				for _, er := range res.errors {
					assert.NotEmpty(t, er.code(), "every error has a code: %s", res.body)
				}
				if c.allow != "" {
					assert.Equal(t, c.allow, res.header.Get("Allow"))
				}
				if c.code != "" && !c.data {
					assert.Zero(t, e.upstream.Calls(), "a refused request makes no upstream call")
				}
			})
		}
	}
}

const mediaJSONAccept = "application/json"

// readAllReset returns a fresh reader over r's body and restores r's.
func readAllReset(r *http.Request) (*readCloser, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r.Body)
	b := buf.Bytes()
	r.Body = &readCloser{bytes.NewReader(b)}
	return &readCloser{bytes.NewReader(b)}, err
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func TestOptionsRequestAnswersAllow(t *testing.T) {
	e := newSecureEnv(t)
	res := e.send(httptest.NewRequest(http.MethodOptions, "/graphql", nil))
	assert.Equal(t, http.StatusNoContent, res.status)
	assert.Equal(t, "GET, POST, OPTIONS", res.header.Get("Allow"))
}

// deepQuery nests n fields: user → meetings → nodes → user → meetings …
// (valid or not: depth is refused before validation).
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

func repeat(format string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

// fieldFanOut selects 10 meeting fields 10^k times, through fragments each
// spread ten times by the next.
func fieldFanOut(k int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{ user(id: "1") { meetings { nodes { ...F%d } } } }`, k)
	b.WriteString(` fragment F0 on Meeting { id hash personId companyId threadId status rawStatus type rawType startDate }`)
	for i := 1; i <= k; i++ {
		fmt.Fprintf(&b, " fragment F%d on Meeting {%s }", i, strings.Repeat(fmt.Sprintf(" ...F%d", i-1), 10))
	}
	return b.String()
}

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
		{"15,001 tokens", q("{"+strings.Repeat(" __typename", 15000)+" }", nil), 400, gqlhttp.CodeTokenLimit},
		{"10,000 nested braces", q(strings.Repeat("{", 10000)+strings.Repeat("}", 10000), nil), 400, gqlhttp.CodeDepthLimit},
		{"10,000 nested lists", q(`{ users(ids: `+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`) { id } }`, nil), 400, gqlhttp.CodeDepthLimit},
		{"depth 16", q(deepQuery(16), nil), 400, gqlhttp.CodeDepthLimit},
		{"depth 16 through fragments", q(`{ user(id: "1") { ...A } } fragment A on User { meetings { nodes { ...B } } } fragment B on Meeting { user { ...C } }
			fragment C on User { meetings { nodes { user { meetings { nodes { user { meetings { nodes { user { meetings { nodes { id } } } } } } } } } } } }`, nil), 400, gqlhttp.CodeDepthLimit},
		{"31 aliases", q(`{ user(id: "1") {`+repeat(" a%d: id", 31)+` } }`, nil), 400, gqlhttp.CodeAliasLimit},
		{"31 aliases through a fragment spread twice", q(`{ a: user(id: "1") { ...F } b: user(id: "2") { ...F } } fragment F on User {`+repeat(" x%d: id", 15)+` }`, nil), 400, gqlhttp.CodeAliasLimit},
		{"21 root fields", q(`{`+repeat(" a%d: __typename", 21)+` }`, map[string]any{}), 400, gqlhttp.CodeRootFieldLimit},
		{"7,000 fields of one name", q("{ user(id: \"1\") {"+strings.Repeat(" id", 7000)+" } }", nil), 400, gqlhttp.CodeFieldLimit},
		{"10,000 fields through fragments", q(fieldFanOut(3), nil), 400, gqlhttp.CodeFieldLimit},
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

func TestLimitsAreConfigurable(t *testing.T) {
	e := newSecureEnv(t, withGraph(func(o *graph.Options) {
		o.MaxDepth, o.MaxAliases, o.MaxRootFields, o.MaxFields, o.MaxTokens = 4, 2, 2, 12, 60
		o.MaxComplexity, o.MaxUpstreamCalls, o.MaxRequestBytes = 300, 3, 400
	}))
	cases := []struct {
		name       string
		ok, tooBig string
		code       string
	}{
		{"depth", `{ user(id: "1") { meetings { nodes { id } } } }`, `{ user(id: "1") { meetings { nodes { user { id } } } } }`, gqlhttp.CodeDepthLimit},
		{"aliases", `{ user(id: "1") { a: id b: id } }`, `{ user(id: "1") { a: id b: id c: id } }`, gqlhttp.CodeAliasLimit},
		{"root fields", `{ __typename user(id: "1") { id } }`, `{ __typename user(id: "1") { id } users(ids: []) { id } }`, gqlhttp.CodeRootFieldLimit},
		{"fields", `{ user(id: "1") { id globalId meetings { totalCount } } }`, `{ user(id: "1") { ...F ...F } } fragment F on User { id globalId meetings { totalCount nodes { id hash } } }`, gqlhttp.CodeFieldLimit},
		{"complexity", `{ user(id: "1") { meetings(first: 100) { nodes { id hash } } } }`, `{ user(id: "1") { meetings(first: 100) { nodes { id hash status } } } }`, graph.CodeComplexityLimit},
		{"upstream calls", `{ user(id: "1") { meetings { totalCount } threads(first: 40) { totalCount } } }`, `{ user(id: "1") { meetings { totalCount } threads(first: 41) { totalCount } } }`, graph.CodeUpstreamBudget},
		{"tokens", `{` + strings.Repeat(" __typename", 2) + ` }`, `{ user(id: "1") {` + strings.Repeat(" id", 60) + ` } }`, gqlhttp.CodeTokenLimit},
		{"request bytes", `{ __typename }`, `{ __typename }` + strings.Repeat(" ", 400), gqlhttp.CodeRequestTooLarge},
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

func TestErrorCountAndResponseSizeAreCapped(t *testing.T) {
	t.Run("a 22 KB directive flood", func(t *testing.T) {
		e := newSecureEnv(t)
		q := "{ __typename" + strings.Repeat(" @a", 7300) + " }"
		require.Greater(t, len(q), 21000)
		res := e.send(postReq(body(q, nil)))
		assert.Equal(t, http.StatusBadRequest, res.status)
		require.Len(t, res.errors, gqlhttp.DefaultMaxErrors)
		for _, er := range res.errors[:gqlhttp.DefaultMaxErrors-1] {
			assert.Equal(t, gqlhttp.CodeValidationFailed, er.code())
		}
		last := res.errors[gqlhttp.DefaultMaxErrors-1]
		assert.Equal(t, gqlhttp.CodeTooManyErrors, last.code())
		assert.Contains(t, last.Message, "more errors were left out")
		assert.Less(t, len(res.body), 24<<10, "the response stays small")
		t.Logf("directive flood: %d-byte document, %d-byte response", len(q), len(res.body))
	})
	t.Run("field errors", func(t *testing.T) {
		e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.MaxErrors = 5 }))
		e.upstream.Inject(resttest.Fault{Path: "/api/v1/users/*/meetings", Kind: resttest.FaultStatus, Status: 500})
		res := e.send(postReq(body(`query($ids: [ID!]!) { users(ids: $ids) { meetings { totalCount } } }`, map[string]any{"ids": userIDs(10)})))
		assert.Equal(t, http.StatusOK, res.status, "field errors keep data and 200")
		require.Len(t, res.errors, 5)
		assert.Equal(t, gqlhttp.CodeTooManyErrors, res.errors[4].code())
		assert.Contains(t, res.errors[4].Message, "6 more errors")
		assert.JSONEq(t, `{"users": [null,null,null,null,null,null,null,null,null,null]}`, string(res.data))
	})
	t.Run("response size", func(t *testing.T) {
		e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.MaxResponseBytes = 2048 }))
		q := body(`{ user(id: "1") { meetings(first: 100) { nodes { id globalId address startDate endDate createdAt modifiedAt rawStatus rawType } } } }`, nil)
		res := e.send(postReq(q))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeResponseTooLarge, res.code())
		assert.False(t, res.hasData)
		assert.Less(t, len(res.body), 2048)
		res = e.send(postReq(q, "Accept", "application/json"))
		assert.Equal(t, http.StatusOK, res.status, "application/json answers 200 to a well-formed request")
		assert.Equal(t, gqlhttp.CodeResponseTooLarge, res.code())
		// A small answer still fits.
		res = e.send(postReq(body(`{ user(id: "1") { meetings { totalCount } } }`, nil)))
		assert.Empty(t, res.errors)
	})
}

func TestBatching(t *testing.T) {
	batch := func(queries ...string) string {
		items := make([]map[string]any, len(queries))
		for i, q := range queries {
			items[i] = map[string]any{"query": q}
		}
		b, _ := json.Marshal(items)
		return string(b)
	}
	t.Run("off by default", func(t *testing.T) {
		e := newSecureEnv(t)
		res := e.send(postReq(batch(`{ user(id: "1") { meetings { totalCount } } }`)))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBatchingDisabled, res.code())
		assert.Zero(t, e.upstream.Calls())
	})
	t.Run("bounded when on", func(t *testing.T) {
		e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.Batching, o.MaxBatchSize, o.MaxUpstreamCalls = true, 3, 15 }))
		u1, u2 := user(t, e.data, 1), user(t, e.data, 2)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, postReq(batch(`{ user(id: "1") { meetings { totalCount } } }`, `{ user(id: "2") { meetings { totalCount } } }`, `{`)))
		assert.Equal(t, http.StatusOK, rec.Code)
		var got []struct {
			Data *struct {
				User struct{ Meetings struct{ TotalCount int } }
			}
			Errors []gqlError
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), rec.Body.String())
		require.Len(t, got, 3)
		assert.Equal(t, len(u1.Meetings), got[0].Data.User.Meetings.TotalCount)
		assert.Equal(t, len(u2.Meetings), got[1].Data.User.Meetings.TotalCount)
		assert.Nil(t, got[2].Data)
		assert.Equal(t, gqlhttp.CodeParseFailed, got[2].Errors[0].code())

		e.upstream.Reset()
		res := e.send(postReq(batch(`{ __typename }`, `{ __typename }`, `{ __typename }`, `{ __typename }`)))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBatchTooLarge, res.code())

		// The operations of a batch share one upstream budget.
		ten := `query($ids: [ID!]!) { users(ids: $ids) { meetings { totalCount } } }`
		items, _ := json.Marshal([]map[string]any{
			{"query": ten, "variables": map[string]any{"ids": userIDs(10)}},
			{"query": ten, "variables": map[string]any{"ids": []string{"11", "12", "13", "14", "15", "16", "17", "18", "19", "20"}}},
		})
		rec = httptest.NewRecorder()
		e.handler.ServeHTTP(rec, postReq(string(items)))
		var two []struct{ Errors []gqlError }
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &two))
		require.Len(t, two, 2)
		assert.Empty(t, two[0].Errors)
		require.Len(t, two[1].Errors, 1)
		assert.Equal(t, graph.CodeUpstreamBudget, two[1].Errors[0].code())
		assert.Equal(t, 10, e.upstream.Calls(), "only the first operation ran")

		res = e.send(postReq(`[{"query": "{ __typename }"}, 7]`))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBadRequest, res.code())
		res = e.send(postReq(`[]`))
		assert.Equal(t, gqlhttp.CodeBadRequest, res.code())
	})
}

func TestCSRFPrevention(t *testing.T) {
	e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.CSRFHeaders = []string{"X-Our-App"} }))
	q := "query=" + url.QueryEscape(`{ user(id: "1") { meetings { totalCount } } }`)
	simpleGET := func(headers ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/graphql?"+q, nil)
		r.Header.Set("Authorization", resttest.DefaultToken)
		return withHeaders(r, headers)
	}
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"simple GET", simpleGET(), 400, gqlhttp.CodeCSRFPrevented},
		{"GET with a header that is not configured", simpleGET("Apollo-Require-Preflight", "true"), 400, gqlhttp.CodeCSRFPrevented},
		{"GET with an empty preflight header", simpleGET("X-Our-App", " "), 400, gqlhttp.CodeCSRFPrevented},
		{"GET with the preflight header", simpleGET("X-Our-App", "1"), 200, ""},
		{"GET with a JSON Content-Type", simpleGET("Content-Type", "application/json"), 200, ""},
		{"GET with a form Content-Type", simpleGET("Content-Type", "application/x-www-form-urlencoded", "X-Our-App", "1"), 415, gqlhttp.CodeUnsupportedMediaType},
		{"GET with text/plain", simpleGET("Content-Type", "text/plain"), 415, gqlhttp.CodeUnsupportedMediaType},
		{"POST text/plain with a preflight header", postReq(body(`{ __typename }`, nil), "Content-Type", "text/plain", "X-Our-App", "1"), 415, gqlhttp.CodeUnsupportedMediaType},
		{"POST JSON", postReq(body(`{ user(id: "1") { meetings { totalCount } } }`, nil)), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.upstream.Reset()
			res := e.send(c.req)
			assert.Equal(t, c.status, res.status, "%s", res.body)
			assert.Equal(t, c.code, res.code())
			if c.code != "" {
				assert.Zero(t, e.upstream.Calls())
			} else {
				assert.Equal(t, 1, e.upstream.Calls())
			}
		})
	}
}

func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.AllowedOrigins = []string{app} }))
	preflight := func(origin string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		return r
	}
	res := e.send(preflight(app))
	assert.Equal(t, http.StatusNoContent, res.status)
	assert.Equal(t, app, res.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "POST", res.header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "authorization,content-type", res.header.Get("Access-Control-Allow-Headers"))

	res = e.send(preflight("https://evil.example.net"))
	assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"), "another origin gets no permission")

	res = e.send(postReq(body(`{ __typename }`, nil), "Origin", app))
	assert.Equal(t, app, res.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "X-Request-Id", res.header.Get("Access-Control-Expose-Headers"))
	assert.Contains(t, res.header.Values("Vary"), "Origin")

	res = e.send(postReq(body(`{ __typename }`, nil), "Origin", "https://evil.example.net"))
	assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"))

	t.Run("no origins, no CORS", func(t *testing.T) {
		e := newSecureEnv(t)
		res := e.send(preflight(app))
		assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"))
		res = e.send(postReq(body(`{ __typename }`, nil), "Origin", app))
		assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"))
	})
}

func TestIntrospectionAndSuggestions(t *testing.T) {
	introspect := []string{
		`{ __schema { queryType { name } } }`,
		`{ __type(name: "User") { name } }`,
		`{ ...F } fragment F on Query { ... on Query { __schema { types { name } } } }`,
	}
	t.Run("off by default", func(t *testing.T) {
		e := newSecureEnv(t)
		for _, q := range introspect {
			res := e.send(postReq(body(q, nil)))
			assert.Equal(t, http.StatusBadRequest, res.status, q)
			assert.Equal(t, gqlhttp.CodeIntrospectionDisabled, res.code(), q)
			assert.NotContains(t, string(res.body), "MeetingStatus")
		}
		res := e.send(postReq(body(`{ __typename }`, nil)))
		assert.JSONEq(t, `{"__typename": "Query"}`, string(res.data), "__typename is not introspection")

		res = e.send(postReq(body(`{ user(id: "1") { meeting } }`, nil)))
		assert.Equal(t, gqlhttp.CodeValidationFailed, res.code())
		assert.NotContains(t, res.errors[0].Message, "Did you mean", "no suggestions")
		res = e.send(postReq(body(`{ user(id: "1") { meetings(filter: {status: [FINISHD]}) { totalCount } } }`, nil)))
		assert.NotContains(t, string(res.body), "Did you mean")
	})
	t.Run("on when configured", func(t *testing.T) {
		e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.Introspection, o.Suggestions = true, true }))
		for _, q := range introspect {
			res := e.send(postReq(body(q, nil)))
			assert.Empty(t, res.errors, q)
			assert.Equal(t, http.StatusOK, res.status)
		}
		res := e.send(postReq(body(`{ user(id: "1") { meeting } }`, nil)))
		assert.Contains(t, res.errors[0].Message, `Did you mean "meetings"?`)
	})
	t.Run("introspection nesting is bounded", func(t *testing.T) {
		e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.Introspection = true }))
		res := e.send(postReq(body(`{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`, nil)))
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
	e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.Introspection = true }))
	res := e.send(postReq(body(graphiQLIntrospection, nil), "Accept", "application/json, multipart/mixed"))
	assert.Equal(t, http.StatusOK, res.status)
	require.Empty(t, res.errors, "%.500s", res.body)
	assert.Contains(t, string(res.data), `"name":"MeetingConnection"`)

	e = newSecureEnv(t, withGraph(func(o *graph.Options) { o.Introspection, o.MaxDepth = true, 14 }))
	res = e.send(postReq(body(graphiQLIntrospection, nil)))
	assert.Equal(t, gqlhttp.CodeDepthLimit, res.code(), "15 deep: one level less refuses it")
}
