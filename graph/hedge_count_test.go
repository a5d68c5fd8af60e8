package graph_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
)

// attemptsHeld holds every upstream request but hedges until its context
// ends: each call is answered by its hedge, and its attempt cancelled.
type attemptsHeld struct{ next http.RoundTripper }

func (h attemptsHeld) RoundTrip(req *http.Request) (*http.Response, error) {
	if !restclient.IsHedge(req) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	return h.next.RoundTrip(req)
}

// TestLogLineCountsHedges: a hedge is an HTTP exchange, so upstreamCalls
// counts it, and upstreamHedged says how many of them were hedges; the
// upstream itself saw only the hedges, the attempts being held and
// cancelled. The metric counts each hedge sent and won, and the delay
// histogram how long each call had waited when its hedge was due (the
// policy's fixed 1 ms).
func TestLogLineCountsHedges(t *testing.T) {
	var o *observed
	o = newObserved(t, withClient(
		restclient.WithHTTPClient(&http.Client{Transport: attemptsHeld{restclient.NewTransport(0)}}),
		// One hedge per call: a second would be due whenever the first
		// took a millisecond, and the counts below would be the clock's.
		restclient.WithHedging(restclient.HedgePolicy{MinDelay: time.Millisecond, MaxDelay: time.Millisecond, MinHedges: 100, MaxHedges: 1}),
		restclient.WithHedgeObserver(func(e restclient.HedgeEvent) { o.metrics.UpstreamHedge(e.Endpoint, string(e.Result), e.Delay) }),
	))
	rec := httptest.NewRecorder()
	o.handler.ServeHTTP(rec, postReq(body(sharedQuery, nil)))
	require.Equal(t, http.StatusOK, rec.Code)
	require.NotContains(t, rec.Body.String(), `"errors"`)
	id := rec.Header().Get("X-Request-Id")

	calls := o.upstream.Calls()
	require.Equal(t, 4, calls, "two users' meetings and first thread pages, each by its hedge")
	var line map[string]any
	for _, l := range o.logs.lines(t) {
		if l["msg"] == "graphql operation" && l["requestId"] == id {
			line = l
		}
	}
	require.NotNil(t, line)
	assert.EqualValues(t, 2*calls, line["upstreamCalls"], "each call's attempt and its hedge")
	assert.EqualValues(t, calls, line["upstreamHedged"])
	mfs, err := o.metrics.Registry().Gather()
	require.NoError(t, err)
	byResult := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "salesgraph_upstream_hedges_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					byResult[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	assert.Equal(t, map[string]float64{"sent": float64(calls), "won": float64(calls)}, byResult)
	var due uint64
	var waited float64
	for _, mf := range mfs {
		if mf.GetName() != "salesgraph_upstream_hedge_delay_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			due += m.GetHistogram().GetSampleCount()
			waited += m.GetHistogram().GetSampleSum()
		}
	}
	assert.EqualValues(t, calls, due, "one delay for each hedge sent, none for a hedge that won")
	assert.InDelta(t, float64(calls)*time.Millisecond.Seconds(), waited, 1e-9)
}
