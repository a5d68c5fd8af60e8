package graph_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
)

// Persisted operations through graph.NewHandler: gqlhttp's tests cover APQ
// and allow-list mode in full; these show the sales schema behind them.

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// pqBody is a request carrying a persisted-query hash, and the document
// when query is not empty.
func pqBody(hash, query string) string {
	m := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	if query != "" {
		m["query"] = query
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestAutomaticPersistedQueries(t *testing.T) {
	e := newSecureEnv(t)
	const q = `{ user(id: "3") { meetings { totalCount } } }`
	want := len(user(t, e.data, 3).Meetings)
	total := func(res *httpResult) int {
		t.Helper()
		require.Empty(t, res.errors, "%s", res.body)
		var d struct {
			User struct{ Meetings struct{ TotalCount int } }
		}
		require.NoError(t, json.Unmarshal(res.data, &d))
		return d.User.Meetings.TotalCount
	}

	res := e.send(postReq(pqBody(sha(q), "")))
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, res.code())
	assert.Zero(t, e.upstream.Calls())
	// The client retries with the document, which registers it.
	assert.Equal(t, want, total(e.send(postReq(pqBody(sha(q), q)))))
	assert.Equal(t, want, total(e.send(postReq(pqBody(sha(q), "")))))
	assert.Equal(t, 2, e.upstream.Calls(), "the registration and the hit ran")
}

func TestAllowListMode(t *testing.T) {
	const meetings = `query Meetings($id: ID!) { user(id: $id) { meetings { totalCount } } }`
	e := newSecureEnv(t, withGraph(func(o *graph.Options) { o.AllowedOperations = map[string]string{sha(meetings): meetings} }))
	res := e.send(postReq(`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + sha(meetings) + `"}},"variables":{"id":"1"}}`))
	require.Empty(t, res.errors, "%s", res.body)
	assert.Equal(t, 1, e.upstream.Calls())
	res = e.send(postReq(body(`{ user(id: "1") { id } }`, nil)))
	assert.Equal(t, http.StatusForbidden, res.status)
	assert.Equal(t, gqlhttp.CodeOperationNotAllowed, res.code())

	t.Run("checked against the sales schema at start", func(t *testing.T) {
		bad := map[string]string{sha("{ nope }"): "query Broken { user(id: \"1\") { nope } }", sha(meetings): meetings}
		var o graph.Options
		o.AllowedOperations = bad
		err := o.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "AllowedOperations")
		assert.Contains(t, err.Error(), "Broken")
		assert.Contains(t, err.Error(), sha("{ nope }")[:12])
		assert.Panics(t, func() { graph.NewHandler(o) })

		deep := map[string]string{"x": `{ user(id: "1") { meetings { nodes { user { meetings { nodes { id } } } } } } }`}
		o.AllowedOperations, o.MaxDepth = deep, 3
		assert.ErrorContains(t, o.Validate(), "levels deep", "the limits apply to allowed operations too")
	})
}
