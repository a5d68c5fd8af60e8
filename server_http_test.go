package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// The browser's HTTP layer through the real wiring (issue 20): QUERY,
// its CORS preflight, ETags keyed by -cache-key-secret, Server-Timing and
// the flags that turn them off.

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

const oneUserMeetings = `{ user(id: "1") { meetings { totalCount } } }`

func queryMethod(t *testing.T, base, query string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(gqlhttp.MethodQuery, base+"/graphql", strings.NewReader(`{"query":`+quote(query)+`}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	return req
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func TestHTTPLayerThroughTheWiring(t *testing.T) {
	secret := "-cache-key-secret=" + strings.Repeat("k", 32)
	const app = "https://app.example.com"
	s := launch(t, secret, "-cors-origins="+app)
	want := `{"data":{"user":{"meetings":{"totalCount":` + strconv.Itoa(len(fakeapi.NewDataset().Users[0].Meetings)) + `}}}}`

	resp, body := do(t, queryMethod(t, s.base, oneUserMeetings))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, want, body)
	tag := resp.Header.Get("ETag")
	require.NotEmpty(t, tag, "-etags is on by default")
	assert.Equal(t, "private, no-cache", resp.Header.Get("Cache-Control"))
	assert.Equal(t, []string{"Origin", "Authorization, Accept"}, resp.Header.Values("Vary"), "CORS's, then ours")
	assert.Regexp(t, regexp.MustCompile(`^total;dur=[0-9.]+, app;dur=[0-9.]+, upstream;dur=[0-9.]+;desc="calls=1 shared=0 cached=0"$`),
		resp.Header.Get("Server-Timing"), "-server-timing is on by default")

	req := queryMethod(t, s.base, oneUserMeetings)
	req.Header.Set("If-None-Match", tag)
	resp, body = do(t, req)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)

	// Another replica with the same -cache-key-secret gives the same ETag.
	other := launch(t, secret)
	req = queryMethod(t, other.base, oneUserMeetings)
	req.Header.Set("If-None-Match", tag)
	resp, _ = do(t, req)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode, "replicas sharing the secret agree on ETags")

	// An allowed origin's preflight may ask for QUERY, and If-None-Match.
	origin := app
	pre, err := http.NewRequest(http.MethodOptions, s.base+"/graphql", nil)
	require.NoError(t, err)
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "QUERY")
	pre.Header.Set("Access-Control-Request-Headers", "content-type,if-none-match")
	resp, _ = do(t, pre)
	assert.Equal(t, origin, resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "QUERY", resp.Header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "content-type,if-none-match", resp.Header.Get("Access-Control-Allow-Headers"))

	put, err := http.NewRequest(http.MethodPut, s.base+"/graphql", nil)
	require.NoError(t, err)
	resp, _ = do(t, put)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "GET, POST, QUERY, OPTIONS", resp.Header.Get("Allow"))
}

func TestHTTPLayerFlagsTurnItOff(t *testing.T) {
	s := launch(t, "-etags=false", "-server-timing=false")
	req, err := http.NewRequest(http.MethodGet, s.base+"/graphql?query="+url.QueryEscape(oneUserMeetings), nil)
	require.NoError(t, err)
	req.Header.Set("GraphQL-Require-Preflight", "1")
	resp, body := do(t, req)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Empty(t, resp.Header.Values("ETag"))
	assert.Empty(t, resp.Header.Values("Server-Timing"))
	assert.Equal(t, "private, no-store", resp.Header.Get("Cache-Control"))
}
