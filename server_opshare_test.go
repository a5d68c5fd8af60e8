package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// metric is the value of one series in a /metrics body (its name and
// labels exactly as exposed), 0 when it is absent.
func metric(body, series string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// TestSharingIsLoggedAndCounted runs salesgraph in front of a fake that
// holds the first upstream call: five identical requests are answered by
// one execution, and another operation's identical upstream call joins the
// held one. Every request is a log line and an operation counted; the
// shares are counted as such, and the log lines count real exchanges only.
func TestSharingIsLoggedAndCounted(t *testing.T) {
	fake := fakeapi.NewServer()
	defer fake.Close()
	s := launch(t, "-upstream-url", fake.URL, "-log-level", "info")
	scrape := func() string {
		_, body := get(t, s.base+"/metrics")
		return body
	}
	release := fake.Hold()
	defer release()

	const n = 5
	auth := map[string]string{"Authorization": fakeapi.DefaultToken}
	var wg sync.WaitGroup
	ids := make([]string, n+1)
	send := func(i int, query string) {
		wg.Go(func() {
			resp := postQuery(t, s.base+"/graphql", query, auth)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			ids[i] = resp.Header.Get("X-Request-Id")
		})
	}
	send(0, `query Shared { user(id: "3") { meetings { totalCount } } }`)
	require.Eventually(t, func() bool { return fake.Calls() == 1 }, 10*time.Second, time.Millisecond)
	for i := 1; i < n; i++ {
		send(i, `query Shared { user(id: "3") { meetings { totalCount } } }`)
	}
	send(n, `query Other { user(id: "3") { meetings { nodes { id } } } }`)
	require.Eventually(t, func() bool {
		return metric(scrape(), "salesgraph_graphql_operations_in_flight") == n+1
	}, 10*time.Second, 5*time.Millisecond, "every request is in flight, the joined ones too")
	shared := `salesgraph_upstream_shared_total{endpoint="` + restclient.EndpointUserMeetings + `"}`
	require.Eventually(t, func() bool { return metric(scrape(), shared) == 1 }, 10*time.Second, 5*time.Millisecond,
		"the other operation's call joined the held one")
	release()
	wg.Wait()

	body := scrape()
	assert.EqualValues(t, 1, fake.Calls())
	assert.EqualValues(t, n, metric(body, `salesgraph_graphql_operations_total{operation="Shared",outcome="ok"}`))
	assert.EqualValues(t, 1, metric(body, `salesgraph_graphql_operations_total{operation="Other",outcome="ok"}`))
	assert.EqualValues(t, n-1, metric(body, "salesgraph_graphql_operations_shared_total"))
	assert.EqualValues(t, 1, metric(body, shared))

	lines := map[string]map[string]any{}
	for _, l := range strings.Split(s.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "graphql operation" {
			lines[m["requestId"].(string)] = m
		}
	}
	require.Len(t, lines, n+1, "a line per request")
	for i, id := range ids {
		l := lines[id]
		require.NotNil(t, l, "request %d", i)
		switch {
		case i == 0:
			assert.EqualValues(t, 1, l["upstreamCalls"], "the one exchange")
			assert.NotContains(t, l, "sharedWith")
		case i < n:
			assert.Equal(t, ids[0], l["sharedWith"])
			assert.EqualValues(t, 0, l["upstreamCalls"])
		default:
			assert.EqualValues(t, 0, l["upstreamCalls"])
			assert.EqualValues(t, 1, l["upstreamShared"], "its call joined another's")
		}
	}
}
