package gqlhttp_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

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
	e := newEnv(t, func(o *gqlhttp.Options) { o.APQCacheSize = 2 })
	const q = `{ item(id: "3") { name } }`
	const want = "item 3"
	total := func(res *httpResult) string {
		t.Helper()
		require.Empty(t, res.errors, "%s", res.body)
		var d struct {
			Item struct{ Name string }
		}
		require.NoError(t, json.Unmarshal(res.data, &d))
		return d.Item.Name
	}

	res := e.send(postReq(pqBody(sha(q), "")))
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, res.code())
	assert.Equal(t, "PersistedQueryNotFound", res.errors[0].Message, "the message Apollo clients look for")
	assert.Zero(t, e.calls())
	res = e.send(postReq(pqBody(sha(q), ""), "Accept", "application/json"))
	assert.Equal(t, http.StatusOK, res.status, "application/json: 200 for a well-formed request")
	assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, res.code())

	// The client retries with the document, which registers it.
	assert.Equal(t, want, total(e.send(postReq(pqBody(sha(q), q)))))
	assert.Equal(t, want, total(e.send(postReq(pqBody(sha(q), "")))))
	ext := url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"` + sha(q) + `"}}`)
	assert.Equal(t, want, total(e.send(getReq("extensions="+ext))), "by hash over GET, as CDNs like")
	upper := strings.ToUpper(sha(q))
	assert.Equal(t, want, total(e.send(postReq(pqBody(upper, "")))), "hex digits in either case")
	_, _, _, apq := e.events.take()
	assert.Equal(t, []string{"0:miss", "0:miss", "0:registered", "0:hit", "0:hit", "0:hit"}, apq, "each lookup is told to OnAPQ")

	t.Run("a wrong hash registers nothing", func(t *testing.T) {
		const other = `{ item(id: "4") { id } }`
		res := e.send(postReq(pqBody(sha(q), other)))
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, gqlhttp.CodePersistedQueryHashMismatch, res.code())
		// What is wrong, in the names the client sent, and what to compare
		// its own hashing with; nothing of the query, nor the hash sent.
		assert.Equal(t, fmt.Sprintf("extensions.persistedQuery.sha256Hash is not the SHA-256 of query: the %d bytes of query received hash to %s; "+
			"hash exactly the text sent as query, as UTF-8, in lowercase hex", len(other), sha(other)), res.errors[0].Message)
		assert.NotContains(t, res.errors[0].Message, sha(q))
		res = e.send(postReq(pqBody(sha(other), "")))
		assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, res.code())
	})
	t.Run("an invalid document registers nothing", func(t *testing.T) {
		const bad = `{ item(id: "4") { nope } }`
		res := e.send(postReq(pqBody(sha(bad), bad)))
		assert.Equal(t, gqlhttp.CodeValidationFailed, res.code())
		res = e.send(postReq(pqBody(sha(bad), "")))
		assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, res.code())
	})
	t.Run("malformed extensions", func(t *testing.T) {
		for _, b := range []string{
			`{"extensions":{"persistedQuery":{"version":2,"sha256Hash":"` + sha(q) + `"}}}`,
			`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`,
			`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("z", 64) + `"}}}`,
			`{"extensions":{"persistedQuery":"x"}}`,
		} {
			res := e.send(postReq(b))
			assert.Equal(t, http.StatusBadRequest, res.status, b)
			assert.Equal(t, gqlhttp.CodeBadRequest, res.code(), b)
		}
	})
	t.Run("the cache is bounded", func(t *testing.T) {
		docs := []string{`{ a: __typename }`, `{ b: __typename }`, `{ c: __typename }`}
		for _, d := range docs {
			require.Empty(t, e.send(postReq(pqBody(sha(d), d))).errors)
		}
		assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, e.send(postReq(pqBody(sha(docs[0]), ""))).code(), "the oldest is evicted")
		assert.Empty(t, e.send(postReq(pqBody(sha(docs[2]), ""))).errors)
	})
	t.Run("off", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.DisableAPQ = true })
		for _, b := range []string{pqBody(sha(q), ""), pqBody(sha(q), q)} {
			res := e.send(postReq(b))
			assert.Equal(t, http.StatusBadRequest, res.status)
			assert.Equal(t, gqlhttp.CodePersistedQueryNotSupported, res.code())
			assert.Equal(t, "PersistedQueryNotSupported", res.errors[0].Message)
		}
		assert.Empty(t, e.send(postReq(body(q, nil))).errors, "plain requests still run")
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestAllowListMode(t *testing.T) {
	dir := t.TempDir()
	const (
		meetings = "query Meetings($id: ID!) { item(id: $id) { name } }\n"
		threads  = `query Threads { item(id: "2") { children(first: 1) { id } } }`
	)
	writeFile(t, filepath.Join(dir, "meetings.graphql"), meetings)
	writeFile(t, filepath.Join(dir, "nested", "threads.gql"), threads)
	writeFile(t, filepath.Join(dir, "README.md"), "not an operation")
	ops, err := gqlhttp.LoadOperations(dir)
	require.NoError(t, err)
	assert.Equal(t, meetings, ops[sha(meetings)], "registered under the hash of its exact text")
	assert.Equal(t, strings.TrimSpace(meetings), ops[sha(strings.TrimSpace(meetings))], "and of its trimmed text")
	assert.Equal(t, threads, ops[sha(threads)])
	assert.Len(t, ops, 3)

	e := newEnv(t, func(o *gqlhttp.Options) { o.AllowedOperations = ops })
	vars := `"variables":{"id":"1"}`
	cases := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"by hash", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + sha(meetings) + `"}},` + vars + `}`, 200, ""},
		{"by trimmed hash", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + sha(strings.TrimSpace(meetings)) + `"}},` + vars + `}`, 200, ""},
		{"by its text", body(threads, nil), 200, ""},
		{"by hash and text", pqBody(sha(threads), threads), 200, ""},
		{"another document", body(`{ item(id: "1") { id } }`, nil), 403, gqlhttp.CodeOperationNotAllowed},
		{"another document with its hash", pqBody(sha(`{ item(id: "1") { id } }`), `{ item(id: "1") { id } }`), 403, gqlhttp.CodeOperationNotAllowed},
		{"an unknown hash", pqBody(sha("nothing"), ""), 404, gqlhttp.CodePersistedQueryNotFound},
		{"a registered hash with another text", pqBody(sha(threads), `{ item(id: "1") { id } }`), 400, gqlhttp.CodePersistedQueryHashMismatch},
		{"the registered text, changed by one space", body(threads+" ", nil), 403, gqlhttp.CodeOperationNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.calls()
			res := e.send(postReq(c.body))
			assert.Equal(t, c.status, res.status, "%s", res.body)
			assert.Equal(t, c.code, res.code(), "%s", res.body)
			if c.code != "" {
				assert.Equal(t, before, e.calls())
			} else {
				assert.Greater(t, e.calls(), before)
			}
		})
	}

	t.Run("an Apollo manifest", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "manifest.json")
		writeFile(t, path, `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"op-1","name":"Threads","type":"query","body":`+jsonString(threads)+`}]}`)
		ops, err := gqlhttp.LoadOperations(path)
		require.NoError(t, err)
		assert.Equal(t, threads, ops["op-1"])
		assert.Equal(t, threads, ops[sha(threads)])
	})
	t.Run("bad lists stop the start", func(t *testing.T) {
		schema := testschema.New(&testschema.Resolver{}).Schema()
		_, err := gqlhttp.LoadOperations(filepath.Join(dir, "missing"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
		_, err = gqlhttp.LoadOperations(t.TempDir())
		assert.ErrorContains(t, err, "holds no operations")

		bad := map[string]string{sha("{ nope }"): "query Broken { nope }", sha(threads): threads}
		err = gqlhttp.Options{AllowedOperations: bad}.Validate(schema)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "AllowedOperations")
		assert.Contains(t, err.Error(), "Broken")
		assert.Contains(t, err.Error(), sha("{ nope }")[:12])
		_, err = gqlhttp.New(testschema.New(&testschema.Resolver{}), gqlhttp.Options{AllowedOperations: bad})
		assert.ErrorContains(t, err, "Broken", "New refuses it too")

		deep := map[string]string{"x": `{ item(id: "1") { children { parent { children { id } } } } }`}
		err = gqlhttp.Options{AllowedOperations: deep, MaxDepth: 3}.Validate(schema)
		assert.ErrorContains(t, err, "levels deep", "the limits apply to allowed operations too")
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// mapStore is an APQStore shared by two endpoints, as a Redis-backed one is
// by replicas.
type mapStore struct {
	mu   sync.Mutex
	docs map[string]string
	puts int
}

func (s *mapStore) Get(_ context.Context, hash string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.docs[hash]
	return q, ok
}

func (s *mapStore) Put(_ context.Context, hash, query string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[hash] = query
	s.puts++
}

func TestAPQStoreIsPluggable(t *testing.T) {
	store := &mapStore{docs: map[string]string{}}
	a := newEnv(t, func(o *gqlhttp.Options) { o.APQStore = store })
	b := newEnv(t, func(o *gqlhttp.Options) { o.APQStore = store })
	const q = `{ item(id: "5") { name } }`
	assert.Equal(t, gqlhttp.CodePersistedQueryNotFound, b.send(postReq(pqBody(sha(q), ""))).code())
	require.Empty(t, a.send(postReq(pqBody(sha(q), q))).errors, "registered on one")
	res := b.send(postReq(pqBody(sha(q), "")))
	require.Empty(t, res.errors, "hit on the other")
	assert.JSONEq(t, `{"item": {"name": "item 5"}}`, string(res.data))
	assert.Equal(t, map[string]string{sha(q): q}, store.docs, "under its hash")

	const bad = `{ item(id: "5") { nope } }`
	assert.Equal(t, gqlhttp.CodeValidationFailed, a.send(postReq(pqBody(sha(bad), bad))).code())
	big := `{ echo(text: "` + strings.Repeat("x", 40<<10) + `") }`
	require.Empty(t, a.send(postReq(pqBody(sha(big), big))).errors, "a large document runs")
	assert.Equal(t, 1, store.puts, "neither an invalid nor a large document is stored")
}
