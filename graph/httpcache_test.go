package graph_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// The browser's HTTP layer: ETags and Server-Timing over the sales schema
// (gqlhttp/etag.go, gqlhttp/servertiming.go, servertiming.go).

const otherToken = "another-credential"

// switchable is an upstream that the test can swap for another, as if
// the upstream's data changed.
type switchable struct {
	target atomic.Pointer[httputil.ReverseProxy]
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.target.Load().ServeHTTP(w, r)
}

func (s *switchable) use(t *testing.T, fake *fakeapi.Server) {
	u, err := url.Parse(fake.URL)
	require.NoError(t, err)
	s.target.Store(httputil.NewSingleHostReverseProxy(u))
}

// httpLayerHandler is the facade over upstream with ETags and
// Server-Timing on, as salesgraph's defaults have them.
func httpLayerHandler(t *testing.T, upstreamURL string, opts ...restclient.Option) http.Handler {
	t.Helper()
	client, err := restclient.New(upstreamURL, append([]restclient.Option{restclient.WithoutRetry(), restclient.WithoutCircuitBreaker()}, opts...)...)
	require.NoError(t, err)
	o := graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler)}
	o.ETags, o.ServerTiming = true, true
	return graph.NewHandler(o)
}

// getMeetings is a GET of user 1's first meetings, with these header pairs.
func getMeetings(headers ...string) *http.Request {
	q := `{ user(id: "1") { meetings(first: 3) { totalCount nodes { id status } } } }`
	r := httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(q), nil)
	r.Header.Set("GraphQL-Require-Preflight", "1")
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

func record(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestETagsAreBoundToCredentialAndData: the same credential asking again
// gets 304; another credential with the first ETag gets the whole answer;
// once the upstream's data changed, the first ETag gets the new answer.
func TestETagsAreBoundToCredentialAndData(t *testing.T) {
	before := fakeapi.NewServer(fakeapi.WithTokens(fakeapi.DefaultToken, otherToken))
	t.Cleanup(before.Close)
	after := fakeapi.NewServer(fakeapi.WithTokens(fakeapi.DefaultToken, otherToken), fakeapi.WithSeed(99), fakeapi.WithMeetingsPerUser(5))
	t.Cleanup(after.Close)
	meetingsOf := func(d *fakeapi.Dataset) int { return len(d.Users[0].Meetings) }
	up := &switchable{}
	up.use(t, before)
	proxy := httptest.NewServer(up)
	t.Cleanup(proxy.Close)
	h := httpLayerHandler(t, proxy.URL)

	first := record(h, getMeetings("Authorization", fakeapi.DefaultToken))
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	assert.Contains(t, first.Body.String(), `"totalCount":`+strconv.Itoa(meetingsOf(before.Dataset())))
	tag := first.Header().Get("ETag")
	require.NotEmpty(t, tag)
	assert.Equal(t, "private, no-cache", first.Header().Get("Cache-Control"))
	assert.Equal(t, "Authorization, Accept", first.Header().Get("Vary"))
	calls := before.Calls()

	again := record(h, getMeetings("Authorization", fakeapi.DefaultToken, "If-None-Match", tag))
	assert.Equal(t, http.StatusNotModified, again.Code)
	assert.Empty(t, again.Body.Bytes())
	assert.Equal(t, tag, again.Header().Get("ETag"))
	assert.Equal(t, 2*calls, before.Calls(), "the operation runs again: a 304 saves the transfer, not the upstream calls")

	other := record(h, getMeetings("Authorization", otherToken, "If-None-Match", tag))
	assert.Equal(t, http.StatusOK, other.Code, "another credential's ETag never matches")
	assert.Equal(t, first.Body.String(), other.Body.String(), "the same data, sent in full")
	assert.NotEqual(t, tag, other.Header().Get("ETag"))

	require.NotEqual(t, meetingsOf(before.Dataset()), meetingsOf(after.Dataset()), "the test needs datasets that differ")
	up.use(t, after)
	changed := record(h, getMeetings("Authorization", fakeapi.DefaultToken, "If-None-Match", tag))
	assert.Equal(t, http.StatusOK, changed.Code, "the data changed: the whole new answer")
	assert.Contains(t, changed.Body.String(), `"totalCount":`+strconv.Itoa(meetingsOf(after.Dataset())))
	assert.NotEqual(t, tag, changed.Header().Get("ETag"))
}

// TestServerTimingCountsUpstreamCalls: the calls a request made and those
// the response cache answered, as the fake counted them.
func TestServerTimingCountsUpstreamCalls(t *testing.T) {
	up := fakeapi.NewServer()
	t.Cleanup(up.Close)
	cache, err := respcache.New(respcache.Options{TTL: time.Hour})
	require.NoError(t, err)
	h := httpLayerHandler(t, up.URL, restclient.WithResponseCache(restclient.ResponseCache{Cache: cache, Keyer: respcache.NewRandomKeyer()}))
	timing := regexp.MustCompile(`^total;dur=[0-9.]+, app;dur=[0-9.]+, upstream;dur=[0-9.]+;desc="calls=(\d+) shared=(\d+) cached=(\d+)"$`)

	q := `{ a: user(id: "1") { meetings { totalCount } threads { totalCount } } b: user(id: "2") { meetings { totalCount } } }`
	post := func() string {
		r := httptest.NewRequest(http.MethodPost, "/graphql", jsonBody(t, q))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", fakeapi.DefaultToken)
		rec := record(h, r)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return rec.Header().Get("Server-Timing")
	}
	m := timing.FindStringSubmatch(post())
	require.NotNil(t, m)
	assert.Equal(t, []string{strconv.Itoa(up.Calls()), "0", "0"}, m[1:], "calls made, as the fake saw them")
	assert.Equal(t, 3, up.Calls())

	m = timing.FindStringSubmatch(post())
	require.NotNil(t, m)
	assert.Equal(t, []string{"0", "0", "3"}, m[1:], "every call answered by the cache")
	assert.Equal(t, 3, up.Calls())

	off := graph.NewHandler(graph.Options{Upstream: mustClient(t, up.URL), Logger: slog.New(slog.DiscardHandler)})
	rec := record(off, getMeetings("Authorization", fakeapi.DefaultToken))
	assert.Empty(t, rec.Header().Values("Server-Timing"), "off unless asked for")
	assert.Empty(t, rec.Header().Values("ETag"))
}

// TestAnswersFromMemoryKeepTheirHTTPLayer: an answer handed over from
// memory (an operation that needs no upstream call, asked again) says
// where its own time went, carries the ETag its credential's request
// would get, and is revalidated by it.
func TestAnswersFromMemoryKeepTheirHTTPLayer(t *testing.T) {
	up := fakeapi.NewServer()
	t.Cleanup(up.Close)
	h := httpLayerHandler(t, up.URL)
	timing := regexp.MustCompile(`^total;dur=[0-9.]+, app;dur=[0-9.]+, upstream;dur=[0-9.]+;desc="calls=0 shared=0 cached=0"$`)
	q := `{ user(id: "7") { id } }`
	send := func(etag string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("QUERY", "/graphql", jsonBody(t, q))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", fakeapi.DefaultToken)
		if etag != "" {
			r.Header.Set("If-None-Match", etag)
		}
		return record(h, r)
	}
	var etags []string
	for i := range 4 { // the third and fourth from memory (TestAnswersRememberedForIdenticalRequestsOnly)
		rec := send("")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Regexp(t, timing, rec.Header().Get("Server-Timing"), "request %d", i)
		etags = append(etags, rec.Header().Get("ETag"))
	}
	assert.NotEmpty(t, etags[0])
	assert.Equal(t, []string{etags[0], etags[0], etags[0]}, etags[1:], "one answer, one ETag")
	rec := send(etags[0])
	assert.Equal(t, http.StatusNotModified, rec.Code)
	assert.Empty(t, rec.Body.Bytes())
	assert.Zero(t, up.Calls())
}

// TestStaleAnswersHaveNoETag: an answer served from stale upstream data
// (extensions.cache.stale) is not to be confirmed by a 304 later.
func TestStaleAnswersHaveNoETag(t *testing.T) {
	up := fakeapi.NewServer()
	t.Cleanup(up.Close)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	cache, err := respcache.New(respcache.Options{TTL: 30 * time.Second, StaleIfError: time.Hour, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	require.NoError(t, err)
	h := httpLayerHandler(t, up.URL, restclient.WithResponseCache(restclient.ResponseCache{Cache: cache, Keyer: respcache.NewRandomKeyer()}))

	fresh := record(h, getMeetings("Authorization", fakeapi.DefaultToken))
	require.NotEmpty(t, fresh.Header().Get("ETag"))
	now.Add(int64(time.Minute))
	up.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: http.StatusServiceUnavailable})
	stale := record(h, getMeetings("Authorization", fakeapi.DefaultToken, "If-None-Match", "*"))
	require.Equal(t, http.StatusOK, stale.Code)
	require.Contains(t, stale.Body.String(), `"stale":`)
	assert.Empty(t, stale.Header().Get("ETag"))
	assert.Equal(t, "private, no-store", stale.Header().Get("Cache-Control"))
}

// TestQueryMethodThroughTheFacade: a QUERY runs as a POST would, and its
// answer is revalidatable.
func TestQueryMethodThroughTheFacade(t *testing.T) {
	up := fakeapi.NewServer()
	t.Cleanup(up.Close)
	h := httpLayerHandler(t, up.URL)
	r := httptest.NewRequest(gqlhttp.MethodQuery, "/graphql", jsonBody(t, `{ user(id: "1") { meetings { totalCount } } }`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", fakeapi.DefaultToken)
	rec := record(h, r)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"data":{"user":{"meetings":{"totalCount":`+strconv.Itoa(len(up.Dataset().Users[0].Meetings))+`}}}}`, rec.Body.String())
	assert.NotEmpty(t, rec.Header().Get("ETag"), "a QUERY's answer is revalidatable")
}

func jsonBody(t *testing.T, query string) *strings.Reader {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query})
	require.NoError(t, err)
	return strings.NewReader(string(b))
}

func mustClient(t *testing.T, upstreamURL string) *restclient.Client {
	t.Helper()
	c, err := restclient.New(upstreamURL)
	require.NoError(t, err)
	return c
}

// TestIdenticalQueryRequestsExecuteOnce: QUERY requests are shared as
// POSTs are (opshare.go); the waiter gets the execution's ETag, which is
// its own too, since the two requests are identical.
func TestIdenticalQueryRequestsExecuteOnce(t *testing.T) {
	r := newOpShareRig(t, withGraph(func(o *graph.Options) { o.ETags = true }))
	send := func() <-chan *httptest.ResponseRecorder {
		out := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			req := httptest.NewRequest(gqlhttp.MethodQuery, "/graphql", strings.NewReader(r.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", fakeapi.DefaultToken)
			out <- record(r.handler, req)
		}()
		return out
	}
	release := r.upstream.Hold()
	defer release()
	first := send()
	r.calls(t, 4)
	then := send()
	require.Eventually(t, func() bool { return r.opJoins.Load() == 1 }, 5*time.Second, time.Millisecond)
	release()
	a, b := <-first, <-then
	require.Equal(t, http.StatusOK, a.Code, a.Body.String())
	assert.Equal(t, a.Body.String(), b.Body.String())
	assert.NotEmpty(t, a.Header().Get("ETag"))
	assert.Equal(t, a.Header().Get("ETag"), b.Header().Get("ETag"))
	assert.Equal(t, 4, r.upstream.Calls(), "one execution's calls")
}
