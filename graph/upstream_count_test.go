package graph_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
)

// TestLogLineCountsOnlyRealExchanges: an operation's upstreamCalls are the
// HTTP exchanges it made; calls answered by the response cache are
// upstreamCached, and calls that joined another operation's identical call
// in flight are upstreamShared.
func TestLogLineCountsOnlyRealExchanges(t *testing.T) {
	var joined atomic.Int64
	cache, err := respcache.New(respcache.Options{TTL: time.Minute})
	require.NoError(t, err)
	o := newObserved(t, withClient(
		restclient.WithResponseCache(restclient.ResponseCache{Cache: cache, Keyer: respcache.NewRandomKeyer()}),
		restclient.WithShareObserver(func(string) { joined.Add(1) }),
	))
	send := func(query string, headers ...string) string {
		rec := httptest.NewRecorder()
		o.handler.ServeHTTP(rec, postReq(body(query, nil), headers...))
		require.Equal(t, http.StatusOK, rec.Code)
		require.NotContains(t, rec.Body.String(), `"errors"`)
		return rec.Header().Get("X-Request-Id")
	}
	line := func(id string) map[string]any {
		t.Helper()
		for _, l := range o.logs.lines(t) {
			if l["msg"] == "graphql operation" && l["requestId"] == id {
				return l
			}
		}
		t.Fatalf("no line for %s", id)
		return nil
	}
	counts := func(id string) [3]float64 {
		l := line(id)
		var out [3]float64
		for i, k := range []string{"upstreamCalls", "upstreamShared", "upstreamCached"} {
			out[i], _ = l[k].(float64)
		}
		return out
	}

	// sharedQuery makes four calls; the second time, the cache has them all.
	first := send(sharedQuery)
	calls := float64(o.upstream.Calls())
	require.EqualValues(t, 4, calls)
	assert.Equal(t, [3]float64{calls, 0, 0}, counts(first))
	again := send(sharedQuery)
	assert.EqualValues(t, calls, o.upstream.Calls(), "answered from the cache")
	assert.Equal(t, [3]float64{0, 0, calls}, counts(again), "cached answers are no exchanges")

	// Two operations that differ only in a header not sent upstream are not
	// shared, but their calls are: the second's join the first's.
	other := strings.ReplaceAll(sharedQuery, "[7, 8]", "[9, 10]")
	release := o.upstream.Hold()
	defer release()
	var wg sync.WaitGroup
	var ids [2]string
	wg.Go(func() { ids[0] = send(other, "Accept-Language", "pl") })
	require.Eventually(t, func() bool { return float64(o.upstream.Calls()) == 2*calls }, 5*time.Second, time.Millisecond)
	wg.Go(func() { ids[1] = send(other, "Accept-Language", "en") })
	require.Eventually(t, func() bool { return joined.Load() == int64(calls) }, 5*time.Second, time.Millisecond)
	release()
	wg.Wait()
	assert.Equal(t, [3]float64{calls, 0, 0}, counts(ids[0]))
	assert.Equal(t, [3]float64{0, calls, 0}, counts(ids[1]), "calls answered by another's are no exchanges")
	assert.EqualValues(t, 2*calls, o.upstream.Calls())
}
