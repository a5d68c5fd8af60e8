package gqlhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
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
		{name: "PUT", req: withHeaders(httptest.NewRequest(http.MethodPut, "/graphql", strings.NewReader(ok)), []string{"Content-Type", "application/json"}), status: 405, legacy: 405, code: gqlhttp.CodeMethodNotAllowed, allow: "GET, POST, OPTIONS"},
		{name: "DELETE", req: httptest.NewRequest(http.MethodDelete, "/graphql", nil), status: 405, legacy: 405, code: gqlhttp.CodeMethodNotAllowed, allow: "GET, POST, OPTIONS"},
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
	assert.Equal(t, "GET, POST, OPTIONS", res.header.Get("Allow"))
}

func TestErrorCountAndResponseSizeAreCapped(t *testing.T) {
	t.Run("a 22 KB directive flood", func(t *testing.T) {
		e := newEnv(t)
		q := "{ __typename" + strings.Repeat(" @a", 7300) + " }"
		require.Greater(t, len(q), 21000)
		res := e.post(q, nil)
		assert.Equal(t, http.StatusBadRequest, res.status)
		require.Len(t, res.errors, gqlhttp.DefaultMaxErrors)
		for _, er := range res.errors[:gqlhttp.DefaultMaxErrors-1] {
			assert.Equal(t, gqlhttp.CodeValidationFailed, er.code())
		}
		last := res.errors[gqlhttp.DefaultMaxErrors-1]
		assert.Equal(t, gqlhttp.CodeTooManyErrors, last.code())
		assert.Contains(t, last.Message, "more errors were left out")
		assert.Less(t, len(res.body), 24<<10, "the response stays small")
		_, _, added, _ := e.events.take()
		assert.Equal(t, []string{"0:" + gqlhttp.CodeTooManyErrors}, added, "the summary is told to OnAdded")
		t.Logf("directive flood: %d-byte document, %d-byte response", len(q), len(res.body))
	})
	t.Run("field errors", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.MaxErrors = 5 })
		res := e.post(`query($ids: [ID!]!) { items(ids: $ids) { fail } }`, map[string]any{"ids": ids(10)})
		assert.Equal(t, http.StatusOK, res.status, "field errors keep data and 200")
		require.Len(t, res.errors, 5)
		assert.Equal(t, gqlhttp.CodeTooManyErrors, res.errors[4].code())
		assert.Contains(t, res.errors[4].Message, "6 more errors")
		assert.JSONEq(t, `{"items": [{"fail":null},{"fail":null},{"fail":null},{"fail":null},{"fail":null},{"fail":null},{"fail":null},{"fail":null},{"fail":null},{"fail":null}]}`, string(res.data))
	})
	t.Run("response size", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.MaxResponseBytes = 2048 })
		q := body(`query($ids: [ID!]!) { items(ids: $ids) { id name tags big(bytes: 40) } }`, map[string]any{"ids": ids(100)})
		res := e.send(postReq(q))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeResponseTooLarge, res.code())
		assert.False(t, res.hasData)
		assert.Less(t, len(res.body), 2048)
		res = e.send(postReq(q, "Accept", "application/json"))
		assert.Equal(t, http.StatusOK, res.status, "application/json answers 200 to a well-formed request")
		assert.Equal(t, gqlhttp.CodeResponseTooLarge, res.code())
		// A small answer still fits.
		res = e.post(`{ item(id: "1") { id } }`, nil)
		assert.Empty(t, res.errors)
	})
	t.Run("raw JSON is compacted", func(t *testing.T) {
		e := newEnv(t)
		res := e.post(`{ raw }`, nil)
		require.Empty(t, res.errors)
		var compact bytes.Buffer
		require.NoError(t, json.Compact(&compact, []byte(`{"raw":`+testschema.RawJSON+`}`)))
		assert.Equal(t, compact.String(), string(res.data), "compact, as json.Marshal would make it")
	})
	t.Run("CompactData trusts the executor", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.CompactData = true })
		res := e.post(`{ raw }`, nil)
		require.Empty(t, res.errors)
		assert.Equal(t, `{"raw":`+testschema.RawJSON+`}`, string(res.data), "written as the executor wrote it")
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
		e := newEnv(t)
		res := e.send(postReq(batch(`{ item(id: "1") { id } }`)))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBatchingDisabled, res.code())
		assert.Zero(t, e.calls())
	})
	t.Run("bounded when on", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.Batching, o.MaxBatchSize = true, 3 })
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, postReq(batch(`{ item(id: "1") { id } }`, `{ item(id: "2") { name } }`, `{`)))
		assert.Equal(t, http.StatusOK, rec.Code)
		var got []struct {
			Data   json.RawMessage
			Errors []gqlError
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), rec.Body.String())
		require.Len(t, got, 3)
		assert.JSONEq(t, `{"item": {"id": "1"}}`, string(got[0].Data))
		assert.JSONEq(t, `{"item": {"name": "item 2"}}`, string(got[1].Data))
		assert.Nil(t, got[2].Data)
		assert.Equal(t, gqlhttp.CodeParseFailed, got[2].Errors[0].code())

		res := e.send(postReq(batch(`{ __typename }`, `{ __typename }`, `{ __typename }`, `{ __typename }`)))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBatchTooLarge, res.code())

		res = e.send(postReq(`[{"query": "{ __typename }"}, 7]`))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBadRequest, res.code())
		res = e.send(postReq(`[]`))
		assert.Equal(t, gqlhttp.CodeBadRequest, res.code())
	})
	t.Run("the hooks are told each operation's position", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.Batching, o.MaxResponseBytes = true, 1024 })
		e.events.take()
		res := e.send(postReq(batch(`{ item(id: "1") { id } }`, `{ big(bytes: 2000) }`)))
		assert.Equal(t, http.StatusOK, res.status)
		_, replaced, _, _ := e.events.take()
		assert.Equal(t, []string{"1:" + gqlhttp.CodeResponseTooLarge}, replaced, "the second answer gave way")
	})
	t.Run("the batch as a whole fits", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.Batching, o.MaxResponseBytes = true, 1100 })
		res := e.send(postReq(batch(`{ a: big(bytes: 600) }`, `{ b: big(bytes: 600) }`)))
		assert.Equal(t, http.StatusOK, res.status)
		assert.LessOrEqual(t, len(res.body), 1100)
		require.Len(t, res.errors, 1)
		assert.Equal(t, gqlhttp.CodeResponseTooLarge, res.code(), "the second is refused, though alone it fits")
	})
}

// batchAnswers decodes a batch's answer: one response object per operation.
func batchAnswers(t *testing.T, res *httpResult) []struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
} {
	t.Helper()
	var out []struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(res.body, &out), "the answer to a batch must be a JSON array: %s", res.body)
	return out
}

// TestBatchRefusalAnswersEachOperation: a batch refused as a whole is
// answered with the refusal once per operation, in an array of the batch's
// length, because batching clients match answers to operations by position
// and reject an answer of another length, hiding the code.
func TestBatchRefusalAnswersEachOperation(t *testing.T) {
	batchOf := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ item(id: \"1\") { id } }"},`, n), ",") + "]"
	}
	for _, c := range []struct {
		name   string
		opts   func(*gqlhttp.Options)
		n      int
		code   string
		accept string
	}{
		{"batching off", func(*gqlhttp.Options) {}, 3, gqlhttp.CodeBatchingDisabled, ""},
		{"batching off, application/json", func(*gqlhttp.Options) {}, 1, gqlhttp.CodeBatchingDisabled, "application/json"},
		{"over the limit", func(o *gqlhttp.Options) { o.Batching, o.MaxBatchSize = true, 3 }, 4, gqlhttp.CodeBatchTooLarge, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.opts)
			res := e.send(postReq(batchOf(c.n), "Accept", c.accept))
			assert.Equal(t, http.StatusBadRequest, res.status)
			answers := batchAnswers(t, res)
			require.Len(t, answers, c.n)
			for i, a := range answers {
				assert.Nil(t, a.Data, "answer %d has data", i)
				require.Len(t, a.Errors, 1, "answer %d", i)
				assert.Equal(t, c.code, a.Errors[0].code(), "answer %d", i)
			}
			assert.Zero(t, e.calls(), "a refused batch runs no resolver")
			refused, _, _, _ := e.events.take()
			assert.Equal(t, []string{c.code}, refused, "told to OnRefused once")
		})
	}

	t.Run("not a client's batch", func(t *testing.T) {
		// Past a hundred entries the refusal is one object: a megabyte of
		// empty entries must not earn a hundred thousand errors.
		e := newEnv(t)
		res := e.send(postReq("[" + strings.TrimSuffix(strings.Repeat("{},", 101), ",") + "]"))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBatchingDisabled, res.code())
		// An array that is not JSON is malformed, batching or not.
		res = e.send(postReq(`[{"query": "{ __typename }"},`))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodeBadRequest, res.code())
	})
}

// TestPrereadBody: a body a handler in front already read is answered as
// the same body read by the endpoint, from where its reader stands, and
// the size limit holds for it too.
func TestPrereadBody(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.MaxRequestBytes = 400 })
	preread := func(b string, skip int) *http.Request {
		req := postReq("")
		rc := gqlhttp.PrereadBody([]byte(b))
		_, err := io.CopyN(io.Discard, rc, int64(skip))
		require.NoError(t, err)
		req.Body, req.ContentLength = rc, -1
		return req
	}
	ok := body(`{ item(id: "1") { id } }`, nil)
	want := e.send(postReq(ok))
	require.Equal(t, http.StatusOK, want.status, "%s", want.body)
	require.Empty(t, want.errors)
	got := e.send(preread(ok, 0))
	assert.Equal(t, want.status, got.status)
	assert.Equal(t, string(want.body), string(got.body))

	got = e.send(preread("junk"+ok, len("junk")))
	assert.Equal(t, string(want.body), string(got.body), "what is left of it")

	got = e.send(preread(body(`{ item(id: "1") { id } }`+strings.Repeat(" ", 400), nil), 0))
	assert.Equal(t, http.StatusRequestEntityTooLarge, got.status)
	assert.Equal(t, gqlhttp.CodeRequestTooLarge, got.code())
}

// TestResponseHeadersIndependent: the header values every response
// carries are shared between responses; what a handler adds to one
// response's headers afterwards never shows in another's.
func TestResponseHeadersIndependent(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.ForwardHeaders = []string{"Authorization"} })
	keys := []string{"Vary", "Cache-Control", "Content-Type", "X-Content-Type-Options"}
	var answers []http.Header
	for i := range 2 {
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, postReq(body(`{ item(id: "1") { id } }`, nil)))
		require.Equal(t, http.StatusOK, rec.Code)
		h := rec.Header()
		assert.Equal(t, []string{"Authorization"}, h.Values("Vary"))
		assert.Equal(t, []string{"private, no-store"}, h.Values("Cache-Control"))
		assert.Equal(t, []string{grJSON}, h.Values("Content-Type"))
		assert.Equal(t, []string{"nosniff"}, h.Values("X-Content-Type-Options"))
		for _, k := range keys {
			h.Add(k, "added to answer "+itoa(i))
		}
		answers = append(answers, h)
	}
	for i, h := range answers {
		for _, k := range keys {
			assert.Equal(t, "added to answer "+itoa(i), h.Values(k)[1], k)
		}
	}
}

// memoProbe is an extension that records the Memo each operation sees.
type memoProbe struct{ seen *[]*gqlhttp.Memo }

func (memoProbe) ExtensionName() string                   { return "MemoProbe" }
func (memoProbe) Validate(graphql.ExecutableSchema) error { return nil }
func (p memoProbe) MutateOperationContext(ctx context.Context, _ *graphql.OperationContext) *gqlerror.Error {
	*p.seen = append(*p.seen, gqlhttp.DocumentMemo(ctx))
	return nil
}

// TestDocumentMemo: the requests of one kept document share its Memo;
// another document has its own; a document too large to keep, or one
// rewritten for its request (@defer answered inline), has none, and a nil
// Memo remembers nothing.
func TestDocumentMemo(t *testing.T) {
	e := newEnv(t)
	var seen []*gqlhttp.Memo
	e.srv.Use(memoProbe{&seen})
	send := func(query string) *gqlhttp.Memo {
		t.Helper()
		res := e.post(query, nil)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Empty(t, res.errors)
		return seen[len(seen)-1]
	}
	a := send(`{ item(id: "1") { id } }`)
	require.NotNil(t, a)
	a.Store("k", 1)
	again := send(`{ item(id: "1") { id } }`)
	assert.Same(t, a, again)
	v, ok := again.Load("k")
	assert.True(t, ok)
	assert.Equal(t, 1, v)

	b := send(`{ item(id: "2") { id } }`)
	require.NotNil(t, b)
	assert.NotSame(t, a, b)
	_, ok = b.Load("k")
	assert.False(t, ok)

	big := send(`{ item(id: "1") { id } }` + strings.Repeat(" ", 32<<10))
	assert.Nil(t, big, "a document too large to keep")
	assert.Nil(t, send(`{ item(id: "7") { id ... @defer { name } } }`), "rewritten without @defer for this request")
	big.Store("k", 1)
	_, ok = big.Load("k")
	assert.False(t, ok)
}

// TestDocumentsAreValidatedOnce: a document is parsed and validated once
// while it is kept, whatever the variables of the requests that send it;
// one too large to keep is validated every time.
func TestDocumentsAreValidatedOnce(t *testing.T) {
	var validated int
	e := newEnv(t, func(o *gqlhttp.Options) {
		gqlhttp.SetValidator(o, func(s *ast.Schema, d *ast.QueryDocument, r *rules.Rules) gqlerror.List {
			validated++
			return validator.ValidateWithRules(s, d, r)
		})
	})
	byVar := `query($id: ID!) { item(id: $id) { id } }`
	for i := range 4 {
		res := e.post(byVar, map[string]any{"id": itoa(i + 1)})
		require.Empty(t, res.errors, "%s", res.body)
		assert.JSONEq(t, `{"item": {"id": "`+itoa(i+1)+`"}}`, string(res.data))
	}
	assert.Equal(t, 1, validated)
	big := `{ item(id: "1") { id } }` + strings.Repeat(" ", 32<<10)
	for range 2 {
		res := e.post(big, nil)
		require.Empty(t, res.errors, "%s", res.body)
	}
	assert.Equal(t, 3, validated, "not kept: validated each time")
}
