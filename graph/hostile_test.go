package graph_test

import (
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
)

// hostile is one request of the hostile corpus.
type hostile struct {
	name        string
	method      string // POST unless set
	contentType string // application/json unless set; "-" for none
	body        string // the POST body, or the GET URL query
	cyclic      bool   // the document has a fragment cycle
}

func doc(query string) string {
	b, _ := json.Marshal(map[string]any{"query": query})
	return string(b)
}

// fragmentChain is n fragments, each spreading the next, the last spreading
// the first when cyclic.
func fragmentChain(n int, cyclic bool) string {
	var b strings.Builder
	b.WriteString(`{ user(id: "1") { ...F0 } }`)
	for i := range n {
		next := fmt.Sprintf("...F%d", i+1)
		if i == n-1 {
			next = "id"
			if cyclic {
				next = "...F0"
			}
		}
		fmt.Fprintf(&b, " fragment F%d on User { meetings { nodes { user { %s } } } }", i, next)
	}
	return b.String()
}

// nestedJSON is a JSON array nested n deep.
func nestedJSON(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// hostileCorpus is what the server must survive: each is refused, quickly
// and with a short answer, before any upstream call.
func hostileCorpus() []hostile {
	cycles := map[string]string{
		"direct self-spread":             `{ user(id: "1") { ...F } } fragment F on User { id ...F }`,
		"self-spread in nested fields":   `{ user(id: "1") { ...F } } fragment F on User { meetings { nodes { user { ...F } } } }`,
		"mutual spreads":                 `{ user(id: "1") { ...A } } fragment A on User { meetings { nodes { user { ...B } } } } fragment B on User { threads { nodes { owner { ...A } } } }`,
		"three-way cycle":                `{ user(id: "1") { ...A } } fragment A on User { ...B } fragment B on User { ...C } fragment C on User { id ...A }`,
		"cycle through inline fragments": `{ node(id: "x") { ...A } } fragment A on Node { ... on User { meetings { nodes { ... on Meeting { user { ...A } } } } } }`,
		"cycle in an unused fragment":    `{ __typename } fragment A on User { ...B } fragment B on User { ...A }`,
		"cycle behind a directive":       `{ user(id: "1") { ...F @include(if: false) } } fragment F on User { ...F @skip(if: true) }`,
		"cycle among unknown fragments":  `{ user(id: "1") { ...A ...Nope } } fragment A on User { ...Missing ...B } fragment B on User { ...A }`,
		"cycle of 500 fragments":         fragmentChain(500, true),
		"cycle on the query root":        `{ ...Q } fragment Q on Query { user(id: "1") { id } ...Q }`,
	}
	var out []hostile
	for name, q := range cycles {
		out = append(out, hostile{name: "fragment cycle: " + name, body: doc(q), cyclic: true})
	}
	fanOut := `{ user(id: "1") { ...F8 } } fragment F0 on User { id }`
	for i := 1; i <= 8; i++ {
		fanOut += fmt.Sprintf(" fragment F%d on User {%s }", i, strings.Repeat(fmt.Sprintf(" ...F%d", i-1), 10))
	}
	big := strings.Repeat("x", 900<<10)
	out = append(out,
		hostile{name: "10,000 nested braces", body: doc(strings.Repeat("{", 10000) + strings.Repeat("}", 10000))},
		hostile{name: "10,000 unclosed braces", body: doc(strings.Repeat("{", 10000))},
		hostile{name: "10,000 nested lists in an argument", body: doc(`{ users(ids: ` + nestedJSON(10000) + `) { id } }`)},
		hostile{name: "10,000 nested objects in an argument", body: doc(`{ user(id: "1") { meetings(filter: ` + strings.Repeat("{a:", 10000) + "1" + strings.Repeat("}", 10000) + `) { totalCount } } }`)},
		hostile{name: "5,000 nested list types", body: doc(`query($v: ` + strings.Repeat("[", 5000) + "ID" + strings.Repeat("]", 5000) + `) { __typename }`)},
		hostile{name: "100,000 nested arrays in variables", body: `{"query":"query($v: [ID!]) { users(ids: $v) { id } }","variables":{"v":` + nestedJSON(100000) + `}}`},
		hostile{name: "deep inline fragments", body: doc(`{ user(id: "1") {` + strings.Repeat(" ... on User {", 3000) + " id" + strings.Repeat(" }", 3000) + " } }")},
		hostile{name: "fields 40 deep", body: doc(deepQuery(40))},
		hostile{name: "fragment fan-out, 10^8 expansions", body: doc(fanOut)},
		hostile{name: "fragment chain, depth through 500 fragments", body: doc(fragmentChain(500, false))},
		hostile{name: "a name defined twice, the second spreading it", body: doc(`{ user(id: "1") { ...A } } fragment A on User { id } fragment A on User { ...A }`)},
		hostile{name: "7,000 fields in a duplicate fragment", body: doc(`{ ...A } fragment A on Query { __typename } fragment A on Query {` + strings.Repeat(" __typename", 7000) + ` }`)},
		hostile{name: "alias flood", body: doc(`{ user(id: "1") {` + repeat(" a%d: id", 5000) + ` } }`)},
		hostile{name: "same field 7,000 times", body: doc(`{` + strings.Repeat(" __typename", 7000) + ` }`)},
		hostile{name: "root field flood", body: doc(`{` + repeat(" u%d: user(id: \"1\") { id }", 500) + ` }`)},
		hostile{name: "unknown directive flood", body: doc("{ __typename" + strings.Repeat(" @a", 7000) + " }")},
		hostile{name: "repeated directive flood", body: doc("{ __typename" + strings.Repeat(" @include(if: true)", 2000) + " }")},
		hostile{name: "token flood", body: doc("{" + strings.Repeat(" a", 100000) + " }")},
		hostile{name: "comment flood", body: doc("{ user(id: \"x\") { id } }" + strings.Repeat("\n#"+strings.Repeat("c", 50), 10000))},
		hostile{name: "3,000 unused variables", body: doc("query(" + repeat("$v%d: Int ", 3000) + ") { __typename }")},
		hostile{name: "3,000 operations", body: doc(repeat("query Q%d { __typename } ", 3000))},
		hostile{name: "huge string literal", body: doc(`{ user(id: "` + big + `") { id } }`)},
		hostile{name: "huge block string", body: doc(`{ user(id: """` + big + `""") { id } }`)},
		hostile{name: "huge variable", body: `{"query":"query($v: ID!) { user(id: $v) { id } }","variables":{"v":"` + big + `"}}`},
		hostile{name: "huge name", body: doc(`{ ` + big + ` }`)},
		hostile{name: "huge number", body: doc(`{ user(id: "1") { meetings(first: ` + strings.Repeat("9", 100000) + `) { totalCount } } }`)},
		hostile{name: "body over the limit", body: `{"query":"{ __typename }","x":"` + strings.Repeat("y", 2<<20) + `"}`},
		hostile{name: "batch of 1,000", body: "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ __typename }"},`, 1000), ",") + "]"},
		hostile{name: "nested batch", body: `[[{"query":"{ __typename }"}]]`},
		hostile{name: "invalid JSON", body: `{"query": "{ __typename }"`},
		hostile{name: "not JSON", body: `query { __typename }`},
		hostile{name: "JSON null", body: `null`},
		hostile{name: "JSON string", body: `"{ __typename }"`},
		hostile{name: "lone surrogate", body: `{"query": "{ user(id: \"\ud800\") { id } }"}`},
		hostile{name: "invalid UTF-8", body: "{\"query\": \"{ user(id: \\\"\xff\xfe\\\") { id } }\"}"},
		hostile{name: "NUL bytes", body: "{\"query\": \"{ __typename \\u0000 }\"}"},
		hostile{name: "raw NUL in the body", body: "{\"query\": \"{ __typename }\"}\x00"},
		hostile{name: "byte-order mark", body: "\ufeff{\"query\": \"{ __typename }\"}"},
		hostile{name: "number too large in variables", body: `{"query":"query($f: Int) { user(id: \"1\") { meetings(first: $f) { totalCount } } }","variables":{"f":1e400}}`},
		hostile{name: "Int out of range", body: `{"query":"query($f: Int) { user(id: \"1\") { meetings(first: $f) { totalCount } } }","variables":{"f":2147483648}}`},
		hostile{name: "mutation", body: doc(`mutation { user(id: "1") { id } }`)},
		hostile{name: "subscription", body: doc(`subscription { user(id: "1") { id } }`)},
		hostile{name: "text/plain", contentType: "text/plain", body: doc(`{ __typename }`)},
		hostile{name: "form", contentType: "application/x-www-form-urlencoded", body: "query=%7B__typename%7D"},
		hostile{name: "multipart", contentType: "multipart/form-data; boundary=b", body: "--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n" + doc(`{ __typename }`) + "\r\n--b--"},
		hostile{name: "no Content-Type", contentType: "-", body: doc(`{ __typename }`)},
		hostile{name: "UTF-16 JSON", contentType: "application/json; charset=utf-16", body: doc(`{ __typename }`)},
		hostile{name: "two Content-Types", contentType: "application/json, text/plain", body: doc(`{ __typename }`)},
		hostile{name: "GET without preflight", method: http.MethodGet, contentType: "-", body: "query=" + url.QueryEscape(`{ __typename }`)},
		hostile{name: "GET with a form body type", method: http.MethodGet, contentType: "application/x-www-form-urlencoded", body: "query=" + url.QueryEscape(`{ __typename }`)},
		hostile{name: "GET of a cycle", method: http.MethodGet, body: "query=" + url.QueryEscape(`{ user(id: "1") { ...F } } fragment F on User { ...F }`), cyclic: true},
		hostile{name: "GET with a broken escape", method: http.MethodGet, body: "query=%zz"},
		hostile{name: "GET mutation", method: http.MethodGet, body: "query=" + url.QueryEscape(`mutation { x }`)},
		hostile{name: "TRACE", method: http.MethodTrace, body: ""},
	)
	return out
}

func (h hostile) request() *http.Request {
	method := h.method
	if method == "" {
		method = http.MethodPost
	}
	var r *http.Request
	if method == http.MethodGet {
		r = httptest.NewRequest(method, "/graphql?"+h.body, nil)
	} else {
		r = httptest.NewRequest(method, "/graphql", strings.NewReader(h.body))
	}
	switch h.contentType {
	case "-":
	case "":
		r.Header.Set("Content-Type", "application/json")
	default:
		r.Header.Set("Content-Type", h.contentType)
	}
	r.Header.Set("Authorization", "Bearer resttest-demo-token")
	return r
}

func TestHostileRequestsAreSurvived(t *testing.T) {
	e := newSecureEnv(t)
	for _, h := range hostileCorpus() {
		t.Run(h.name, func(t *testing.T) {
			e.upstream.Reset()
			res := e.send(h.request())
			assert.GreaterOrEqual(t, res.status, 400, "%.300s", res.body)
			assert.Less(t, res.status, 500, "%.300s", res.body)
			require.True(t, res.isJSON, "the answer is JSON: %.300s", res.body)
			require.NotEmpty(t, res.errors)
			for _, er := range res.errors {
				assert.NotEmpty(t, er.code(), "every error has a code: %.300s", res.body)
			}
			if h.cyclic {
				assert.Equal(t, gqlhttp.CodeValidationFailed, res.code())
				assert.Contains(t, res.errors[0].Message, "within itself")
			}
			assert.False(t, res.hasData, "refused: no data member")
			assert.Less(t, len(res.body), 24<<10, "the answer is short: %.300s", res.body)
			assert.Zero(t, e.upstream.Calls(), "no upstream call")
			t.Logf("%d-byte request: %d, %d-byte answer, %s", len(h.body), res.status, len(res.body), res.code())
		})
	}
	// And then the server still answers a normal query correctly.
	var got struct {
		User struct{ Meetings struct{ TotalCount int } }
	}
	res := e.send(postReq(body(`{ user(id: "1") { meetings { totalCount } } }`, nil)))
	require.Empty(t, res.errors)
	require.NoError(t, json.Unmarshal(res.data, &got))
	assert.Equal(t, len(user(t, e.data, 1).Meetings), got.User.Meetings.TotalCount)
}
