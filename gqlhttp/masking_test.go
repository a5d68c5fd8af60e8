package gqlhttp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

// goLeaks are traces of Go internals that must never reach a client.
var goLeaks = regexp.MustCompile(`goroutine \d|\.go:\d|runtime\.|json\.Number|float64|map\[string\]|interface \{\}|\[\]interface|panic:`)

func TestVariableErrorsNameNoGoTypes(t *testing.T) {
	e := newEnv(t)
	const q = `query($first: Int, $ids: [ID!]!, $filter: Filter) { items(ids: $ids, filter: $filter) { children(first: $first) { id } } }`
	for _, vars := range []map[string]any{
		{"ids": []string{"1"}, "first": 1.5},
		{"ids": []string{"1"}, "first": map[string]any{"a": 1}},
		{"ids": []string{"1"}, "first": []any{1}},
		{"ids": map[string]any{"a": "1"}},
		{"ids": []any{true}},
		{"ids": []string{"1"}, "filter": map[string]any{"colors": []string{"NOPE"}}},
		{"ids": []string{"1"}, "filter": map[string]any{"nope": 1}},
		{"ids": []string{"1"}, "filter": "x"},
		{"ids": nil},
	} {
		res := e.post(q, vars)
		assert.Equal(t, http.StatusBadRequest, res.status, "%v", vars)
		require.NotEmpty(t, res.errors)
		assert.Equal(t, gqlhttp.CodeBadUserInput, res.code(), "%s", res.body)
		assert.Contains(t, res.errors[0].Message, "variable $")
		assert.Empty(t, res.errors[0].Path, "a request error has no path")
		assert.False(t, goLeaks.Match(res.body), "%s", res.body)
		assert.NotContains(t, string(res.body), "NOPE", "the value is not quoted back")
	}
	res := e.post(q, map[string]any{"ids": []string{"1"}, "filter": map[string]any{"colors": []string{"NOPE"}}})
	assert.Equal(t, `variable $filter at "colors[0]": not a valid value (expected Filter)`, res.errors[0].Message)
	require.Len(t, res.errors[0].Locations, 1)
	assert.Equal(t, 1, res.errors[0].Locations[0].Line, "where the variable is declared")
	assert.Zero(t, e.calls())
}

// TestTheCallersPartsAreComposed: the error presenter and recover function
// given to the Server are gqlgen's, and errors they leave without a code get
// INTERNAL_SERVER_ERROR.
func TestTheCallersPartsAreComposed(t *testing.T) {
	e := newEnv(t)
	var recovered []any
	e.srv.SetRecoverFunc(func(_ context.Context, v any) error {
		recovered = append(recovered, v)
		return errors.New("recovered")
	})
	e.srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		pres := graphql.DefaultErrorPresenter(ctx, err)
		var f *testschema.Failure
		if errors.As(err, &f) {
			pres.Extensions = map[string]any{"code": "FAILED"}
		}
		return pres
	})
	res := e.post(`{ boom fail(message: "no") hello }`, nil)
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, []any{"boom"}, recovered)
	codes := map[string]string{}
	for _, er := range res.errors {
		codes[fmt.Sprint(er.Path...)] = er.code()
	}
	assert.Equal(t, map[string]string{"boom": gqlhttp.CodeInternal, "fail": "FAILED"}, codes)
	assert.JSONEq(t, `{"boom": null, "fail": null, "hello": "hello"}`, string(res.data))
}

// marker is a value no code path has a reason to produce.
func newMarker(t *testing.T) string {
	var b [8]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return "SECRET_MARKER_" + hex.EncodeToString(b[:])
}

// TestSecretMarkerNeverLeaves sends a secret in every place a request can
// carry one, each along a path that ends in an error, and looks for it in
// the response's body and headers.
func TestSecretMarkerNeverLeaves(t *testing.T) {
	marker := newMarker(t)
	e := newEnv(t, func(o *gqlhttp.Options) { o.ForwardHeaders = []string{"Authorization", "X-Api-Key"} })
	m := marker
	long := marker + strings.Repeat("Z", 60)
	bearer := "Bearer " + marker
	q := func(query string, vars map[string]any, headers ...string) *http.Request {
		return postReq(body(query, vars), headers...)
	}
	const children = `query($v: Int) { item(id: "1") { children(first: $v) { id } } }`
	paths := map[string]*http.Request{
		"credential":                    q(`{ item(id: "1") { nope } }`, nil, "Authorization", bearer),
		"bare credential":               q(`{ item(id: "1") { nope } }`, nil, "Authorization", marker),
		"cookie":                        q(`{ item(id: "1") { nope } }`, nil, "Cookie", "session="+m),
		"forwarded key":                 q(`{ fail }`, nil, "X-Api-Key", m),
		"proxy credential":              q(`{ fail }`, nil, "Proxy-Authorization", "Basic "+m),
		"an error quoting an argument":  q(`{ fail(message: "`+m+`") }`, nil),
		"an error quoting a variable":   q(`query($v: String) { fail(message: $v) }`, map[string]any{"v": "no: " + m}),
		"an error cutting a value":      q(`query($v: String!) { reject(value: $v) }`, map[string]any{"v": long}),
		"Int literal":                   q(`{ item(id: "1") { children(first: "`+m+`") { id } } }`, nil),
		"long Int literal":              q(`{ item(id: "1") { children(first: "`+long+`") { id } } }`, nil),
		"Int variable":                  q(children, map[string]any{"v": m}),
		"ids variable":                  q(`query($v: [ID!]!) { items(ids: $v) { id } }`, map[string]any{"v": []any{"1", map[string]any{m: m}}}),
		"enum variable":                 q(`query($v: Filter) { items(ids: [], filter: $v) { id } }`, map[string]any{"v": map[string]any{"colors": []string{m}}}),
		"input key variable":            q(`query($v: Filter) { items(ids: [], filter: $v) { id } }`, map[string]any{"v": map[string]any{m: 1}}),
		"enum literal":                  q(`{ items(ids: [], filter: {colors: [`+m+`]}) { id } }`, nil),
		"directive literal":             q(`{ __typename @include(if: "`+m+`") }`, nil),
		"variable default":              q(`query($v: Int = "`+m+`") { item(id: "1") { children(first: $v) { id } } }`, nil),
		"parse error in a string":       q(`{ item(id: "`+m+`" }`, nil),
		"parse error in a block string": q(`{ item(id: """`+m+`""" ) { id } `, nil),
		"invalid JSON":                  postReq(`{"query": "` + m),
		"JSON of the wrong shape":       postReq(`{"query": ["` + m + `"]}`),
		"trailing JSON":                 postReq(`{"query": "{ __typename }"} "` + m + `"`),
		"body too large":                postReq(`{"query": "` + m + strings.Repeat(" ", 1<<20) + `"}`),
		"text/plain body":               postReq(`{"query": "`+m+`"}`, "Content-Type", "text/plain"),
		"Content-Type":                  postReq(`{"query": "`+m+`"}`, "Content-Type", "application/"+m),
		"Accept":                        postReq(`{"query": "`+m+`"}`, "Accept", "application/"+m),
		"batch":                         postReq(`[{"query": "` + m + `"}]`),
		"APQ hash":                      postReq(`{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "` + m + `"}}}`),
		"APQ hash mismatch":             postReq(`{"query": "{ item(id: \"` + m + `\") { id } }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "` + strings.Repeat("ab", 32) + `"}}}`),
		"extensions value":              postReq(`{"query": "{ fail }", "extensions": {"x": "` + m + `"}}`),
		"GET variables":                 getReq("query=" + url.QueryEscape(children) + "&variables=" + url.QueryEscape(`{"v": "`+m+`"}`)),
		"GET broken variables":          getReq("query=" + url.QueryEscape(children) + "&variables=" + url.QueryEscape(`{"v": "`+m)),
		"GET without preflight":         withHeaders(httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(`{ item(id: "`+m+`") { id } }`), nil), []string{"Authorization", bearer}),
		"PUT":                           withHeaders(httptest.NewRequest(http.MethodPut, "/graphql?x="+m, strings.NewReader(m)), []string{"Authorization", bearer}),
	}
	for name, req := range paths {
		for _, accept := range []string{"", "application/json"} {
			r := req
			if accept != "" {
				r = req.Clone(req.Context())
				r.Header.Set("Accept", accept)
				if req.Body != nil {
					b, _ := readAllReset(req)
					r.Body = b
				}
			}
			res := e.send(r)
			assert.True(t, res.isJSON, "%s: %s", name, res.body)
			assert.NotEmpty(t, res.errors, "%s takes an error path: %s", name, res.body)
			for _, er := range res.errors {
				assert.NotEmpty(t, er.code(), "%s", name)
			}
			assert.NotContains(t, string(res.body), marker, "%s: response body", name)
			assert.NotContains(t, string(res.body), marker[:20], "%s: response body", name)
			for k, vs := range res.header {
				for _, v := range vs {
					assert.NotContains(t, v, marker, "%s: header %s", name, k)
				}
			}
		}
	}
	res := e.post(`{ fail(message: "`+m+`") }`, nil)
	assert.Equal(t, "[redacted]", res.errors[0].Message, "the value is masked where it stood")
	res = e.post(`query($v: String!) { reject(value: $v) }`, map[string]any{"v": long})
	assert.Equal(t, `value "[redacted]" is not accepted`, res.errors[0].Message, "a value cut short is masked too")
	res = e.post(`{ fail(message: "short") }`, nil)
	assert.Equal(t, "short", res.errors[0].Message, "a short value is left alone where a message does not quote it")
	res = e.post(`{ fail(message: "children") }`, nil)
	assert.Equal(t, "children", res.errors[0].Message, "and so are the schema's own names")
}

// TestShortValuesAreMaskedWhereMessagesPutThem: values too short to be
// secrets ("-1", "7/../8") are still the client's, and were echoed back
// because only values of eight bytes or more were masked. They are masked
// where messages put values, quoted or after gqlparser's "value: " and
// "found ", from literals and variables alike; elsewhere a message's words
// stay, even when a short value happens to equal one.
func TestShortValuesAreMaskedWhereMessagesPutThem(t *testing.T) {
	e := newEnv(t)
	for _, v := range []string{"-1", "7/../8"} {
		jsonV, _ := json.Marshal(v)
		cases := []struct {
			name, query string
			vars        map[string]any
			want        string // the message
		}{
			{"a resolver quoting a literal", `{ reject(value: ` + string(jsonV) + `) }`, nil, `value "[redacted]" is not accepted`},
			{"a resolver quoting a variable", `query($v: String!) { reject(value: $v) }`, map[string]any{"v": v}, `value "[redacted]" is not accepted`},
			{"gqlparser quoting a literal", `{ item(id: "1") { children(first: ` + string(jsonV) + `) { id } } }`, nil, `Int cannot represent non-integer value: "[redacted]"`},
		}
		for _, c := range cases {
			res := e.post(c.query, c.vars)
			require.NotEmpty(t, res.errors, "%s %s: %s", v, c.name, res.body)
			assert.Equal(t, c.want, res.errors[0].Message, "%s %s", v, c.name)
		}
	}
	// gqlparser prints numbers and enums without quotes.
	res := e.post(`{ item(id: "1") { children(first: -1.5) { id } } }`, nil)
	require.Len(t, res.errors, 1)
	assert.Equal(t, "Int cannot represent non-integer value: [redacted]", res.errors[0].Message)
	res = e.post(`{ items(ids: [], filter: {colors: [NOPE]}) { id } }`, nil)
	require.Len(t, res.errors, 1)
	assert.NotContains(t, res.errors[0].Message, "NOPE")
	// A short value equal to a word of the message leaves the word alone.
	res = e.post(`{ a: reject(value: "is") b: reject(value: "not") }`, nil)
	require.Len(t, res.errors, 2)
	assert.Equal(t, `value "[redacted]" is not accepted`, res.errors[0].Message)
}
