package gqlhttp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// docIDBody is a persisted document request: documentId, then the other
// members given.
func docIDBody(id string, members map[string]any) string {
	m := map[string]any{"documentId": id}
	for k, v := range members {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestDocumentIDAllowList: documentId names an allow-listed document, by
// its prefixed SHA-256 (the draft's form), its bare hash or its manifest
// id, over POST, GET and QUERY; anything else is refused before a
// resolver runs.
func TestDocumentIDAllowList(t *testing.T) {
	const (
		byID  = `query Item($id: ID!) { item(id: $id) { name } }`
		touch = `mutation { touch }`
	)
	ops := map[string]string{sha(byID): byID, "item-by-id": byID, sha(touch): touch}
	e := newEnv(t, func(o *gqlhttp.Options) { o.AllowedOperations = ops })
	vars := map[string]any{"variables": map[string]any{"id": "8"}}
	const want = `{"item":{"name":"item 8"}}`

	for name, req := range map[string]*http.Request{
		"POST sha256:":       postReq(docIDBody("sha256:"+sha(byID), vars)),
		"POST upper-case":    postReq(docIDBody("sha256:"+strings.ToUpper(sha(byID)), vars)),
		"POST bare hash":     postReq(docIDBody(sha(byID), vars)),
		"POST manifest id":   postReq(docIDBody("item-by-id", vars)),
		"QUERY sha256:":      queryReq(docIDBody("sha256:"+sha(byID), vars)),
		"GET sha256:":        getReq("documentId=sha256:" + sha(byID) + "&variables=" + url.QueryEscape(`{"id":"8"}`)),
		"POST operationName": postReq(docIDBody("sha256:"+sha(byID), map[string]any{"operationName": "Item", "variables": map[string]any{"id": "8"}})),
	} {
		res := e.send(req)
		assert.Equal(t, http.StatusOK, res.status, "%s: %s", name, res.body)
		assert.JSONEq(t, want, string(res.data), name)
	}

	before := e.calls()
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"unknown hash", postReq(docIDBody("sha256:"+sha("{ hello }"), nil)), 404, gqlhttp.CodePersistedQueryNotFound},
		{"unknown id", postReq(docIDBody("nothing-here", nil)), 404, gqlhttp.CodePersistedQueryNotFound},
		{"unknown prefix", postReq(docIDBody("md5:abc", nil)), 404, gqlhttp.CodePersistedQueryNotFound},
		{"unknown over GET", getReq("documentId=sha256:" + sha("{ hello }")), 404, gqlhttp.CodePersistedQueryNotFound},
		{"query and documentId", postReq(docIDBody("sha256:"+sha(byID), map[string]any{"query": byID})), 400, gqlhttp.CodeBadRequest},
		{"documentId and persistedQuery", postReq(docIDBody("sha256:"+sha(byID), map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha(byID)}}})), 400, gqlhttp.CodeBadRequest},
		{"short hash", postReq(docIDBody("sha256:abc", nil)), 400, gqlhttp.CodeBadRequest},
		{"not an identifier", postReq(docIDBody("a b/c", nil)), 400, gqlhttp.CodeBadRequest},
		{"empty", postReq(docIDBody("", nil)), 400, gqlhttp.CodeBadRequest},
		{"not a string", postReq(`{"documentId": 7}`), 400, gqlhttp.CodeBadRequest},
		{"twice in the URL", getReq("documentId=a&documentId=b"), 400, gqlhttp.CodeBadRequest},
		{"a mutation over GET", getReq("documentId=sha256:" + sha(touch)), 405, gqlhttp.CodeMethodNotAllowed},
		{"a mutation over QUERY", queryReq(docIDBody("sha256:"+sha(touch), nil)), 405, gqlhttp.CodeMethodNotAllowed},
	} {
		res := e.send(c.req)
		assert.Equal(t, c.status, res.status, "%s: %s", c.name, res.body)
		assert.Equal(t, c.code, res.code(), "%s: %s", c.name, res.body)
		assert.False(t, res.hasData, c.name)
	}
	assert.Equal(t, before, e.calls(), "no refused request ran a resolver")
	res := e.send(postReq(docIDBody("sha256:"+sha(touch), nil)))
	assert.Empty(t, res.errors, "a mutation over POST: %s", res.body)
	assert.Contains(t, string(res.data), `"touch":`)
}

// TestDocumentIDWithAPQ: without an allow-list, a documentId that is a
// SHA-256 finds a document APQ registered; a miss is not an APQ miss.
func TestDocumentIDWithAPQ(t *testing.T) {
	e := newEnv(t)
	const q = `{ item(id: "9") { name } }`
	res := e.send(postReq(docIDBody("sha256:"+sha(q), nil)))
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, res.code())
	assert.Equal(t, "no persisted document has this documentId", res.errors[0].Message)
	_, _, _, apq := e.events.take()
	assert.Empty(t, apq, "not an APQ lookup")

	res = e.send(postReq(pqBody(sha(q), q)))
	require.Empty(t, res.errors, "%s", res.body)
	res = e.send(getReq("documentId=sha256:" + sha(q)))
	assert.JSONEq(t, `{"item":{"name":"item 9"}}`, string(res.data), "%s", res.body)
	res = e.send(postReq(docIDBody("my-id", nil)))
	assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, res.code(), "custom ids are the allow-list's")

	off := newEnv(t, func(o *gqlhttp.Options) { o.DisableAPQ = true })
	res = off.send(postReq(docIDBody("sha256:"+sha(q), nil)))
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, gqlhttp.CodePersistedQueryNotSupported, res.code())
}
