package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// The static credential in a header of its own (issue 18, item 2).

// staticKey is the service's own credential, sent in X-Api-Key.
const staticKey = "service-api-key-0123456789"

// eitherHeaderUpstream is an upstream that accepts its credential in
// either of two headers, as many do: X-Api-Key holding staticKey acts with
// the service's identity (the fake's DefaultToken) whatever else was sent;
// otherwise Authorization must hold an accepted token. It records the
// credential headers of every request it receives.
type eitherHeaderUpstream struct {
	fake *fakeapi.Server
	srv  *httptest.Server

	mu   sync.Mutex
	seen []http.Header // Authorization and X-Api-Key of each request
}

func newEitherHeaderUpstream(t *testing.T) *eitherHeaderUpstream {
	t.Helper()
	u := &eitherHeaderUpstream{fake: fakeapi.New()}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := http.Header{}
		for _, name := range []string{"Authorization", "X-Api-Key"} {
			if vs := r.Header.Values(name); len(vs) > 0 {
				seen[name] = vs
			}
		}
		u.mu.Lock()
		u.seen = append(u.seen, seen)
		u.mu.Unlock()
		if r.Header.Get("X-Api-Key") == staticKey {
			r.Header.Set("Authorization", fakeapi.DefaultToken)
		}
		u.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { u.srv.Close(); u.fake.Close() })
	return u
}

// since returns the credential headers of the requests after the first n.
func (u *eitherHeaderUpstream) since(n int) []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.seen[n:]...)
}

func (u *eitherHeaderUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// TestStaticCredentialOnlyWhenTheCallerSendsNone: with the static
// credential in X-Api-Key and callers' in Authorization, a caller's
// credential travels alone, so a made-up one is refused rather than acting
// with the service's identity; a caller who sends none gets the static
// one. The cache keeps the two apart.
func TestStaticCredentialOnlyWhenTheCallerSendsNone(t *testing.T) {
	up := newEitherHeaderUpstream(t)
	s := launch(t, "-upstream-url", up.srv.URL, "-upstream-retries", "0",
		"-upstream-auth-header", "X-Api-Key", "-upstream-authorization", staticKey, "-cache-ttl", "1h")
	want := len(up.fake.Dataset().Users[0].Meetings)
	onlyAuthorization := http.Header{"Authorization": {"Bearer made-up"}}

	r := ask(t, s.base, userMeetingsQuery(1), "Bearer made-up")
	require.NotEmpty(t, r.Errors, "a made-up token got data")
	assert.Equal(t, graph.CodeForbidden, r.Errors[0]["extensions"].(map[string]any)["code"])
	assert.Equal(t, []http.Header{onlyAuthorization}, up.since(0), "the caller's credential alone")

	n := up.count()
	assert.Equal(t, want, totalCount(t, ask(t, s.base, userMeetingsQuery(1), fakeapi.DefaultToken)))
	assert.Equal(t, []http.Header{{"Authorization": {fakeapi.DefaultToken}}}, up.since(n))

	// Not served the entry the caller's credential stored: its own call,
	// with the static credential alone.
	n = up.count()
	assert.Equal(t, want, totalCount(t, ask(t, s.base, userMeetingsQuery(1), "")))
	assert.Equal(t, []http.Header{{"X-Api-Key": {staticKey}}}, up.since(n))
}
