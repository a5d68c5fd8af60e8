package gqlhttp_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

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
		assert.Equal(t, []string{"Authorization, Accept"}, h.Values("Vary"))
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
