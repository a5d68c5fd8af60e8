package gqlhttp_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

func TestGraphQLOverHTTPStatusCodes(t *testing.T) {
	e := newEnv(t)
	ok := body(`{ item(id: "1") { id } }`, nil)
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
		{name: "field error keeps data", req: postReq(body(`{ item(id: "2") { id fail } }`, nil)), status: 200, legacy: 200, code: gqlhttp.CodeInternal, data: true},
		{name: "parse failure", req: postReq(body(`{`, nil)), status: 400, legacy: 200, code: gqlhttp.CodeParseFailed},
		{name: "validation failure", req: postReq(body(`{ item(id: "1") { nope } }`, nil)), status: 400, legacy: 200, code: gqlhttp.CodeValidationFailed},
		{name: "operation not found", req: postReq(`{"query":"query A { __typename }","operationName":"B"}`), status: 400, legacy: 200, code: gqlhttp.CodeValidationFailed},
		{name: "several operations, no name", req: postReq(`{"query":"query A { __typename } query B { __typename }"}`), status: 400, legacy: 200, code: gqlhttp.CodeValidationFailed},
		{name: "variable coercion failure", req: postReq(body(`query($f: Int) { item(id: "1") { children(first: $f) { id } } }`, map[string]any{"f": "ten"})), status: 400, legacy: 200, code: gqlhttp.CodeBadUserInput},
		{name: "JSON parsing failure", req: postReq(`{"query":`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "not JSON", req: postReq(`NONSENSE`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "empty body", req: postReq(``), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "misspelt query", req: postReq(`{"qeury":"{ __typename }"}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "variables not an object", req: postReq(`{"query":"query Q($i: Int!) { __typename }","variables":[7]}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "query a number", req: postReq(`{"query":1}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "operationName an object", req: postReq(`{"query":"{ __typename }","operationName":{}}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "extensions a string", req: postReq(`{"query":"{ __typename }","extensions":"x"}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "trailing data", req: postReq(`{"query":"{ __typename }"} {}`), status: 400, legacy: 400, code: gqlhttp.CodeBadRequest},
		{name: "PUT", req: withHeaders(httptest.NewRequest(http.MethodPut, "/graphql", strings.NewReader(ok)), []string{"Content-Type", "application/json"}), status: 405, legacy: 405, code: gqlhttp.CodeMethodNotAllowed, allow: "GET, POST, QUERY, OPTIONS"},
		{name: "DELETE", req: httptest.NewRequest(http.MethodDelete, "/graphql", nil), status: 405, legacy: 405, code: gqlhttp.CodeMethodNotAllowed, allow: "GET, POST, QUERY, OPTIONS"},
		{name: "mutation over GET", req: getReq("query=" + url.QueryEscape(`mutation { x }`)), status: 405, legacy: 405, code: gqlhttp.CodeMethodNotAllowed, allow: "POST"},
		{name: "GET query", req: getReq("query=" + url.QueryEscape(`query($id: ID!) { item(id: $id) { id } }`) + "&variables=" + url.QueryEscape(`{"id":"3"}`)), status: 200, legacy: 200, data: true},
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
			accepts = append(accepts, struct{ accept, mediaType string }{"application/json", jsonType})
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
				before := e.calls()
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
					assert.Equal(t, before, e.calls(), "a refused request runs no resolver")
				}
			})
		}
	}
}

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
	e := newEnv(t)
	res := e.send(httptest.NewRequest(http.MethodOptions, "/graphql", nil))
	assert.Equal(t, http.StatusNoContent, res.status)
	assert.Equal(t, "GET, POST, QUERY, OPTIONS", res.header.Get("Allow"))
}
