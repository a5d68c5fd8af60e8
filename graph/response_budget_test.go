package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// heavyUpstream serves the fake's meetings with each address padded to
// size bytes, as an upstream with very large strings would, and can hold
// threads calls until released.
type heavyUpstream struct {
	graph.Upstream
	size    int
	arrived chan struct{} // told of each held threads call; nil holds none
	release chan struct{}
}

func (h *heavyUpstream) UserList(ctx context.Context, list restclient.AnyList, id int64, page int) (restclient.Records, error) {
	if list == restclient.Threads && h.arrived != nil {
		h.arrived <- struct{}{}
		<-h.release
	}
	r, err := h.Upstream.UserList(ctx, list, id, page)
	if p, ok := r.(*restclient.Page[restclient.Meeting]); ok {
		for i := range p.List {
			p.List[i].Address += strings.Repeat("x", h.size-len(p.List[i].Address))
		}
	}
	return r, err
}

func heavyEnv(t *testing.T, up *heavyUpstream, fake *fakeapi.Server, opts func(*graph.Options)) (http.Handler, *observe.Metrics) {
	t.Helper()
	client, err := restclient.New(fake.URL)
	require.NoError(t, err)
	up.Upstream = client
	m := observe.NewMetrics()
	o := graph.Options{Upstream: up, Metrics: m, Logger: slog.New(slog.DiscardHandler)}
	opts(&o)
	return graph.NewHandler(o), m
}

// TestAResponseTooLargeIsCounted: 100 meetings with 8 KiB addresses make
// an 800 KiB answer; with a 16 KiB limit it is refused (gqlhttp's tests
// show it stops being built near the limit), counted under its code, and
// its share of the response memory is given back.
func TestAResponseTooLargeIsCounted(t *testing.T) {
	const limit = 16 << 10
	fake := fakeapi.NewServer(fakeapi.WithMeetingsPerUser(100))
	t.Cleanup(fake.Close)
	h, m := heavyEnv(t, &heavyUpstream{size: 8 << 10}, fake, func(o *graph.Options) { o.MaxResponseBytes = limit })
	e := &env{t: t, handler: h, upstream: fake}

	q := body(`{ user(id: "1") { meetings(first: 100) { nodes { id address } } } }`, nil)
	res := e.send(postReq(q))
	assert.Equal(t, http.StatusBadRequest, res.status)
	require.Len(t, res.errors, 1, "%s", res.body)
	assert.Equal(t, gqlhttp.CodeResponseTooLarge, res.code())
	assert.EqualValues(t, limit, res.errors[0].Extensions["limit"])
	assert.NotEmpty(t, res.errors[0].Extensions["requestId"])
	assert.False(t, res.hasData)

	s := scrape(t, m)
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_total", map[string]string{"outcome": "error"}))
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_errors_total", map[string]string{"code": gqlhttp.CodeResponseTooLarge}))
	assert.Zero(t, s.value("salesgraph_graphql_response_memory_bytes", nil), "the budget is given back")

	// Under the limit, the same fields are answered whole.
	res = e.send(postReq(body(`{ user(id: "1") { meetings(first: 1) { nodes { address } } } }`, nil)))
	require.Empty(t, res.errors)
	assert.Contains(t, string(res.data), strings.Repeat("x", 1000))
}

// TestTheResponseMemoryBudgetIsShared: while one operation holds its
// built response (its other root field waits for the upstream), a second that
// needs more than the rest of the budget is refused with
// RESPONSE_MEMORY_BUDGET_EXCEEDED; the first still completes.
func TestTheResponseMemoryBudgetIsShared(t *testing.T) {
	const limit = 64 << 10
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	up := &heavyUpstream{size: 3 << 10, arrived: make(chan struct{}, 1), release: make(chan struct{})}
	h, m := heavyEnv(t, up, fake, func(o *graph.Options) {
		o.MaxResponseBytes = limit
		o.MaxResponseMemory = limit
	})
	e := &env{t: t, handler: h, upstream: fake}
	u1 := user(t, fake.Dataset(), 1)

	first := make(chan *httpResult, 1)
	go func() {
		// Two root fields: each waits for its own loads (the look-ahead's),
		// so the first is built while the second waits.
		first <- e.send(postReq(body(`{ a: user(id: "1") { meetings { nodes { address } } } b: user(id: "1") { threads(first: 1) { totalCount } } }`, nil)))
	}()
	<-up.arrived // its meetings resolved; threads held
	require.Eventually(t, func() bool {
		return scrape(t, m).value("salesgraph_graphql_response_memory_bytes", nil) >= float64(len(u1.Meetings)*(3<<10))
	}, 10*time.Second, time.Millisecond, "the first operation holds its meetings' share")

	res := e.send(postReq(body(`{ user(id: "2") { meetings { nodes { address } } } }`, nil)))
	assert.Equal(t, http.StatusServiceUnavailable, res.status, "%s", res.body)
	assert.Equal(t, gqlhttp.CodeResponseMemory, res.code())
	assert.False(t, res.hasData)

	close(up.release)
	r1 := <-first
	require.Empty(t, r1.errors)
	assert.Contains(t, string(r1.data), fmt.Sprintf(`"totalCount":%d`, len(u1.Threads)))
	s := scrape(t, m)
	assert.Zero(t, s.value("salesgraph_graphql_response_memory_bytes", nil))
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_errors_total", map[string]string{"code": gqlhttp.CodeResponseMemory}))
}
