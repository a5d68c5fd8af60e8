package gqlhttp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

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
	b.WriteString(`{ item(id: "1") { ...F0 } }`)
	for i := range n {
		next := fmt.Sprintf("...F%d", i+1)
		if i == n-1 {
			next = "id"
			if cyclic {
				next = "...F0"
			}
		}
		fmt.Fprintf(&b, " fragment F%d on Item { children { parent { %s } } }", i, next)
	}
	return b.String()
}

// nestedJSON is a JSON array nested n deep.
func nestedJSON(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// hostileCorpus is what the server must survive: each is refused, quickly
// and with a short answer, before any resolver runs.
func hostileCorpus() []hostile {
	cycles := map[string]string{
		"direct self-spread":             `{ item(id: "1") { ...F } } fragment F on Item { id ...F }`,
		"self-spread in nested fields":   `{ item(id: "1") { ...F } } fragment F on Item { children { parent { ...F } } }`,
		"mutual spreads":                 `{ item(id: "1") { ...A } } fragment A on Item { children { parent { ...B } } } fragment B on Item { children { children { ...A } } }`,
		"three-way cycle":                `{ item(id: "1") { ...A } } fragment A on Item { ...B } fragment B on Item { ...C } fragment C on Item { id ...A }`,
		"cycle through inline fragments": `{ node(id: "x") { ...A } } fragment A on Node { ... on Item { children { ... on Node { ... on Item { parent { ...A } } } } } }`,
		"cycle in an unused fragment":    `{ __typename } fragment A on Item { ...B } fragment B on Item { ...A }`,
		"cycle behind a directive":       `{ item(id: "1") { ...F @include(if: false) } } fragment F on Item { ...F @skip(if: true) }`,
		"cycle among unknown fragments":  `{ item(id: "1") { ...A ...Nope } } fragment A on Item { ...Missing ...B } fragment B on Item { ...A }`,
		"cycle of 500 fragments":         fragmentChain(500, true),
		"cycle on the query root":        `{ ...Q } fragment Q on Query { item(id: "1") { id } ...Q }`,
	}
	var out []hostile
	for name, q := range cycles {
		out = append(out, hostile{name: "fragment cycle: " + name, body: doc(q), cyclic: true})
	}
	fanOut := `{ item(id: "1") { ...F8 } } fragment F0 on Item { id }`
	for i := 1; i <= 8; i++ {
		fanOut += fmt.Sprintf(" fragment F%d on Item {%s }", i, strings.Repeat(fmt.Sprintf(" ...F%d", i-1), 10))
	}
	big := strings.Repeat("x", 900<<10)
	out = append(out,
		hostile{name: "10,000 nested braces", body: doc(strings.Repeat("{", 10000) + strings.Repeat("}", 10000))},
		hostile{name: "10,000 unclosed braces", body: doc(strings.Repeat("{", 10000))},
		hostile{name: "10,000 nested lists in an argument", body: doc(`{ items(ids: ` + nestedJSON(10000) + `) { id } }`)},
		hostile{name: "10,000 nested objects in an argument", body: doc(`{ items(ids: [], filter: ` + strings.Repeat("{a:", 10000) + "1" + strings.Repeat("}", 10000) + `) { id } }`)},
		hostile{name: "5,000 nested list types", body: doc(`query($v: ` + strings.Repeat("[", 5000) + "ID" + strings.Repeat("]", 5000) + `) { __typename }`)},
		hostile{name: "100,000 nested arrays in variables", body: `{"query":"query($v: [ID!]!) { items(ids: $v) { id } }","variables":{"v":` + nestedJSON(100000) + `}}`},
		hostile{name: "deep inline fragments", body: doc(`{ item(id: "1") {` + strings.Repeat(" ... on Item {", 3000) + " id" + strings.Repeat(" }", 3000) + " } }")},
		hostile{name: "fields 40 deep", body: doc(deepQuery(40))},
		hostile{name: "fragment fan-out, 10^8 expansions", body: doc(fanOut)},
		hostile{name: "fragment chain, depth through 500 fragments", body: doc(fragmentChain(500, false))},
		hostile{name: "a name defined twice, the second spreading it", body: doc(`{ item(id: "1") { ...A } } fragment A on Item { id } fragment A on Item { ...A }`)},
		hostile{name: "7,000 fields in a duplicate fragment", body: doc(`{ ...A } fragment A on Query { __typename } fragment A on Query {` + strings.Repeat(" __typename", 7000) + ` }`)},
		hostile{name: "alias flood", body: doc(`{ item(id: "1") {` + repeat(" a%d: id", 5000) + ` } }`)},
		hostile{name: "same field 7,000 times", body: doc(`{` + strings.Repeat(" __typename", 7000) + ` }`)},
		hostile{name: "root field flood", body: doc(`{` + repeat(" u%d: item(id: \"1\") { id }", 500) + ` }`)},
		hostile{name: "unknown directive flood", body: doc("{ __typename" + strings.Repeat(" @a", 7000) + " }")},
		hostile{name: "repeated directive flood", body: doc("{ __typename" + strings.Repeat(" @include(if: true)", 2000) + " }")},
		hostile{name: "token flood", body: doc("{" + strings.Repeat(" a", 100000) + " }")},
		hostile{name: "comment flood", body: doc("{ item(id: 1.5) { id } }" + strings.Repeat("\n#"+strings.Repeat("c", 50), 10000))},
		hostile{name: "3,000 unused variables", body: doc("query(" + repeat("$v%d: Int ", 3000) + ") { __typename }")},
		hostile{name: "3,000 operations", body: doc(repeat("query Q%d { __typename } ", 3000))},
		hostile{name: "huge string literal", body: doc(`{ item(id: "1") { children(first: "` + big + `") { id } } }`)},
		hostile{name: "huge block string", body: doc(`{ item(id: "1") { children(first: """` + big + `""") { id } } }`)},
		hostile{name: "huge variable", body: `{"query":"query($v: Int) { item(id: \"1\") { children(first: $v) { id } } }","variables":{"v":"` + big + `"}}`},
		hostile{name: "huge name", body: doc(`{ ` + big + ` }`)},
		hostile{name: "huge number", body: doc(`{ item(id: "1") { children(first: ` + strings.Repeat("9", 100000) + `) { id } } }`)},
		hostile{name: "body over the limit", body: `{"query":"{ __typename }","x":"` + strings.Repeat("y", 2<<20) + `"}`},
		hostile{name: "batch of 1,000", body: "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ __typename }"},`, 1000), ",") + "]"},
		hostile{name: "nested batch", body: `[[{"query":"{ __typename }"}]]`},
		hostile{name: "invalid JSON", body: `{"query": "{ __typename }"`},
		hostile{name: "not JSON", body: `query { __typename }`},
		hostile{name: "JSON null", body: `null`},
		hostile{name: "JSON string", body: `"{ __typename }"`},
		hostile{name: "lone surrogate", body: `{"query": "{ item(id: \"1\") { children(first: \"\ud800\") { id } } }"}`},
		hostile{name: "invalid UTF-8", body: "{\"query\": \"{ item(id: \\\"1\\\") { children(first: \\\"\xff\xfe\\\") { id } } }\"}"},
		hostile{name: "NUL bytes", body: "{\"query\": \"{ __typename \\u0000 }\"}"},
		hostile{name: "raw NUL in the body", body: "{\"query\": \"{ __typename }\"}\x00"},
		hostile{name: "byte-order mark", body: "\ufeff{\"query\": \"{ __typename }\"}"},
		hostile{name: "number too large in variables", body: `{"query":"query($f: Int) { item(id: \"1\") { children(first: $f) { id } } }","variables":{"f":1e400}}`},
		hostile{name: "mutation", body: doc(`mutation { item(id: "1") { id } }`)},
		hostile{name: "subscription", body: doc(`subscription { item(id: "1") { id } }`)},
		hostile{name: "text/plain", contentType: "text/plain", body: doc(`{ __typename }`)},
		hostile{name: "form", contentType: "application/x-www-form-urlencoded", body: "query=%7B__typename%7D"},
		hostile{name: "multipart", contentType: "multipart/form-data; boundary=b", body: "--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n" + doc(`{ __typename }`) + "\r\n--b--"},
		hostile{name: "no Content-Type", contentType: "-", body: doc(`{ __typename }`)},
		hostile{name: "UTF-16 JSON", contentType: "application/json; charset=utf-16", body: doc(`{ __typename }`)},
		hostile{name: "two Content-Types", contentType: "application/json, text/plain", body: doc(`{ __typename }`)},
		hostile{name: "GET without preflight", method: http.MethodGet, contentType: "-", body: "query=" + url.QueryEscape(`{ __typename }`)},
		hostile{name: "GET with a form body type", method: http.MethodGet, contentType: "application/x-www-form-urlencoded", body: "query=" + url.QueryEscape(`{ __typename }`)},
		hostile{name: "GET of a cycle", method: http.MethodGet, body: "query=" + url.QueryEscape(`{ item(id: "1") { ...F } } fragment F on Item { ...F }`), cyclic: true},
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
	return r
}

// deepQuery nests n fields: item → children → parent → children …
// (valid or not: depth is refused before validation).
func deepQuery(n int) string {
	levels := []string{"children", "parent"}
	var b strings.Builder
	b.WriteString(`{ item(id: "1") {`)
	for i := 0; i < n-2; i++ {
		b.WriteString(" " + levels[i%2] + " {")
	}
	b.WriteString(" id" + strings.Repeat(" }", n-1) + " }")
	return b.String()
}

func TestHostileRequestsAreSurvived(t *testing.T) {
	e := newEnv(t)
	for _, h := range hostileCorpus() {
		t.Run(h.name, func(t *testing.T) {
			before := e.calls()
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
			assert.Equal(t, before, e.calls(), "no resolver ran")
			t.Logf("%d-byte request: %d, %d-byte answer, %s", len(h.body), res.status, len(res.body), res.code())
		})
	}
	// And then the server still answers a normal query correctly.
	res := e.post(`{ item(id: "1") { children(first: 2) { id } } }`, nil)
	require.Empty(t, res.errors)
	assert.JSONEq(t, `{"item": {"children": [{"id": "1.1"}, {"id": "1.2"}]}}`, string(res.data))
}

// naiveValidate follows every fragment spread into its fragment with no
// memory of where it has been, as gqlparser's validator once did (issue
// 173). On a document with a fragment cycle it recurses until the goroutine
// stack overflows: a fatal error that recover cannot catch, which kills the
// whole process.
func naiveValidate(doc *ast.QueryDocument, sel ast.SelectionSet) int {
	n := 0
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			n += 1 + naiveValidate(doc, s.SelectionSet)
		case *ast.InlineFragment:
			n += naiveValidate(doc, s.SelectionSet)
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil {
				n += naiveValidate(doc, f.SelectionSet)
			}
		}
	}
	return n
}

func TestCyclesNeverReachTheValidator(t *testing.T) {
	var validated atomic.Int64
	e := newEnv(t, func(o *gqlhttp.Options) {
		gqlhttp.SetValidator(o, func(s *ast.Schema, d *ast.QueryDocument, r *rules.Rules) gqlerror.List {
			validated.Add(1)
			for _, op := range d.Operations {
				naiveValidate(d, op.SelectionSet)
			}
			for _, f := range d.Fragments {
				naiveValidate(d, f.SelectionSet)
			}
			return validator.ValidateWithRules(s, d, r)
		})
	})

	// The stand-in validator is on the request path.
	res := e.post(`{ item(id: "1") { ...F } } fragment F on Item { children { id } }`, nil)
	require.Empty(t, res.errors, "%s", res.body)
	require.Equal(t, int64(1), validated.Load())

	for _, h := range hostileCorpus() {
		if !h.cyclic {
			continue
		}
		res := e.send(h.request())
		assert.Equal(t, gqlhttp.CodeValidationFailed, res.code(), h.name)
	}
	assert.Equal(t, int64(1), validated.Load(), "no cyclic document reached the validator")
}
