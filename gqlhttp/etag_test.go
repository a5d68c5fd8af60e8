package gqlhttp_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

func withETags(o *gqlhttp.Options) {
	o.ETags = true
	o.ForwardHeaders = []string{"Authorization"}
}

// TestETagRevalidation: the same request with the same credential is 304
// with no body; with another credential, the first ETag never matches.
func TestETagRevalidation(t *testing.T) {
	e := newEnv(t, withETags)
	const q = `{ item(id: "5") { name } }`
	for name, req := range map[string]func(headers ...string) *http.Request{
		"GET":   func(h ...string) *http.Request { return getReq("query="+url.QueryEscape(q), h...) },
		"QUERY": func(h ...string) *http.Request { return queryReq(body(q, nil), h...) },
	} {
		t.Run(name, func(t *testing.T) {
			first := e.send(req("Authorization", "Bearer alice"))
			require.Equal(t, http.StatusOK, first.status, "%s", first.body)
			tag := first.header.Get("ETag")
			require.Regexp(t, `^"[A-Za-z0-9_-]{24}"$`, tag, "a strong ETag")
			assert.Equal(t, "private, no-cache", first.header.Get("Cache-Control"), "stored privately, revalidated every time")
			assert.Equal(t, "Authorization, Accept", first.header.Get("Vary"))

			again := e.send(req("Authorization", "Bearer alice", "If-None-Match", tag))
			assert.Equal(t, http.StatusNotModified, again.status)
			assert.Empty(t, again.body)
			assert.Equal(t, tag, again.header.Get("ETag"))
			assert.Equal(t, "Authorization, Accept", again.header.Get("Vary"))
			assert.Equal(t, "private, no-cache", again.header.Get("Cache-Control"))
			assert.Empty(t, again.header.Get("Content-Type"))

			weak := e.send(req("Authorization", "Bearer alice", "If-None-Match", `"other", W/`+tag))
			assert.Equal(t, http.StatusNotModified, weak.status, "If-None-Match compares weakly, in a list")

			other := e.send(req("Authorization", "Bearer bob", "If-None-Match", tag))
			assert.Equal(t, http.StatusOK, other.status, "another credential's ETag never matches")
			assert.Equal(t, first.body, other.body, "the same data")
			assert.NotEqual(t, tag, other.header.Get("ETag"))

			none := e.send(req("If-None-Match", tag))
			assert.Equal(t, http.StatusOK, none.status, "no credential is another credential")

			media := e.send(req("Authorization", "Bearer alice", "Accept", "application/json", "If-None-Match", tag))
			assert.Equal(t, http.StatusOK, media.status, "another media type is another representation")
			assert.NotEqual(t, tag, media.header.Get("ETag"))
		})
	}

	changed := e.send(getReq("query="+url.QueryEscape(`{ item(id: "6") { name } }`), "Authorization", "Bearer alice",
		"If-None-Match", e.send(getReq("query="+url.QueryEscape(q), "Authorization", "Bearer alice")).header.Get("ETag")))
	assert.Equal(t, http.StatusOK, changed.status, "another answer, another ETag")
	assert.JSONEq(t, `{"item":{"name":"item 6"}}`, string(changed.data))
}

// TestETagOnlyOnCleanSafeAnswers: POST, answers with errors (partial data
// included), request errors and answers an extension marked get no ETag
// and stay no-store; nor does anything with ETags off.
func TestETagOnlyOnCleanSafeAnswers(t *testing.T) {
	e := newEnv(t, withETags)
	e.srv.Use(markNoETag{})
	for name, req := range map[string]*http.Request{
		"POST":          postReq(body(`{ hello }`, nil)),
		"partial data":  getReq("query=" + url.QueryEscape(`{ hello fail }`)),
		"request error": getReq("query=" + url.QueryEscape(`{ nope }`)),
		"marked":        getReq("query=" + url.QueryEscape(`{ echo(text: "no etag") }`)),
	} {
		res := e.send(withHeaders(req, []string{"If-None-Match", "*"}))
		assert.NotEqual(t, http.StatusNotModified, res.status, name)
		assert.Empty(t, res.header.Get("ETag"), name)
		assert.Equal(t, "private, no-store", res.header.Get("Cache-Control"), name)
	}
	res := e.send(getReq("query=" + url.QueryEscape(`{ echo(text: "fine") }`)))
	assert.NotEmpty(t, res.header.Get("ETag"), "the extension marks only its own")

	off := newEnv(t)
	res = off.send(getReq("query=" + url.QueryEscape(`{ hello }`)))
	assert.Empty(t, res.header.Get("ETag"), "off by default")
	assert.Equal(t, "private, no-store", res.header.Get("Cache-Control"))
}

// markNoETag marks the answers of echo("no etag") as not to be revalidated.
type markNoETag struct{}

func (markNoETag) ExtensionName() string                   { return "markNoETag" }
func (markNoETag) Validate(graphql.ExecutableSchema) error { return nil }
func (markNoETag) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil && string(resp.Data) == `{"echo":"no etag"}` {
		gqlhttp.NoETag(ctx)
	}
	return resp
}

// TestETagSecret: servers with the same ETagSecret (replicas) give an
// answer the same ETag; without one, each process has its own key.
func TestETagSecret(t *testing.T) {
	secret := []byte("a shared secret of at least 32 bytes")
	tagOf := func(o ...func(*gqlhttp.Options)) string {
		res := newEnv(t, append([]func(*gqlhttp.Options){withETags}, o...)...).send(getReq("query="+url.QueryEscape(`{ hello }`), "Authorization", "Bearer alice"))
		return res.header.Get("ETag")
	}
	keyed := func(o *gqlhttp.Options) { o.ETagSecret = secret }
	assert.Equal(t, tagOf(keyed), tagOf(keyed))
	assert.NotEqual(t, tagOf(), tagOf(), "random keys")
	assert.NotEqual(t, tagOf(keyed), tagOf(func(o *gqlhttp.Options) { o.ETagSecret = []byte("another secret of at least 32 bytes") }))
}

// TestETagCORS: a cross-origin page that revalidates by itself may send
// If-None-Match and read the ETag.
func TestETagCORS(t *testing.T) {
	const app = "https://app.example.com"
	e := newEnv(t, withETags, func(o *gqlhttp.Options) { o.AllowedOrigins = []string{app} })
	res := e.send(getReq("query="+url.QueryEscape(`{ hello }`), "Origin", app))
	assert.Contains(t, res.header.Get("Access-Control-Expose-Headers"), "Etag")
	pre := withHeaders(httptestRequest(http.MethodOptions), []string{"Origin", app, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "if-none-match"})
	res = e.send(pre)
	assert.Equal(t, "if-none-match", res.header.Get("Access-Control-Allow-Headers"))
}
