package graph_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// answersRig is an opShareRig that sends requests one at a time.
type answersRig struct{ *opShareRig }

func newAnswersRig(t *testing.T, opts ...envOption) *answersRig {
	return &answersRig{newOpShareRig(t, opts...)}
}

// memory is how many requests were answered from memory.
func (a *answersRig) memory() int { return int(a.opMemory.Load()) }

// post sends query with variables and credential, and headers as name,
// value pairs, and waits for the answer.
func (a *answersRig) post(t *testing.T, query string, variables map[string]any, credential string, headers ...string) (*httptest.ResponseRecorder, gqlResponse) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", credential)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return rec, decodeShared(t, rec)
}

// TestAnswersRememberedForIdenticalRequestsOnly: the answer of an
// operation that needs no upstream call is remembered once an execution
// has shown it needs none, and handed only to requests identical to the
// one it answered: another credential, or other variables, execute and
// get their own answer.
func TestAnswersRememberedForIdenticalRequestsOnly(t *testing.T) {
	a := newAnswersRig(t)
	const q = `{ user(id: 7) { id } }`
	var ids []string
	for i := range 4 {
		rec, res := a.post(t, q, nil, fakeapi.DefaultToken)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Empty(t, res.Errors)
		assert.JSONEq(t, `{"user": {"id": "7"}}`, string(res.Data))
		// The first execution learns the operation is local, the second's
		// answer is remembered, the others are answered with it.
		assert.Equal(t, max(0, i-1), a.memory(), "request %d", i)
		ids = append(ids, rec.Header().Get("X-Request-Id"))
	}
	assert.Len(t, map[string]bool{ids[0]: true, ids[1]: true, ids[2]: true, ids[3]: true}, 4, "each request has its own id")

	// Another credential: its own execution first, then its own answer.
	rec, res := a.post(t, q, nil, opTenant)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"user": {"id": "7"}}`, string(res.Data))
	assert.Equal(t, 2, a.memory(), "no other credential's answer")
	a.post(t, q, nil, opTenant)
	assert.Equal(t, 3, a.memory())

	// Other variables, other answers; each remembered on its own.
	const byVar = `query($id: ID!) { user(id: $id) { id } }`
	for round := range 3 {
		for _, id := range []string{"8", "9"} {
			_, res := a.post(t, byVar, map[string]any{"id": id}, fakeapi.DefaultToken)
			require.Empty(t, res.Errors)
			assert.JSONEq(t, `{"user": {"id": "`+id+`"}}`, string(res.Data), "round %d", round)
		}
	}
	assert.Equal(t, 3+2, a.memory(), "the third round of each from memory")

	// The caller's own request id, and any header, are the request's own.
	rec, _ = a.post(t, q, nil, fakeapi.DefaultToken, "X-Request-Id", "caller-chosen-1")
	assert.Equal(t, "caller-chosen-1", rec.Header().Get("X-Request-Id"))
	assert.Equal(t, 6, a.memory(), "X-Request-Id is per request: still identical")
	before := a.memory()
	a.post(t, q, nil, fakeapi.DefaultToken, "X-Other", "1")
	assert.Equal(t, before, a.memory(), "any other header makes another request")
	assert.Zero(t, a.upstream.Calls())
}

// TestAnswersWithErrorsNotRemembered: an operation that needs no upstream
// call but whose answer is an error (here one over MaxResponseBytes) is
// executed for every request, each error naming its own request.
func TestAnswersWithErrorsNotRemembered(t *testing.T) {
	a := newAnswersRig(t, withGraph(func(o *graph.Options) { o.MaxResponseBytes = 1024 }))
	const q = `{ __schema { types { name description fields { name description } } } }`
	for range 4 {
		_, res := a.post(t, q, nil, fakeapi.DefaultToken)
		require.Len(t, res.Errors, 1)
		assert.Equal(t, "RESPONSE_TOO_LARGE", res.Errors[0].code())
	}
	assert.EqualValues(t, 3, a.opLocal.Load(), "known to need no upstream call")
	assert.Zero(t, a.memory(), "never answered from memory")
}

// TestPersistedQueriesNotRemembered: an answer that came through an APQ
// lookup depends on the store, which may forget the hash; it is executed
// each time (and the lookup counted each time).
func TestPersistedQueriesNotRemembered(t *testing.T) {
	a := newAnswersRig(t)
	const q = `{ user(id: 7) { id } }`
	post := func(withQuery bool) gqlResponse {
		t.Helper()
		query := ""
		if withQuery {
			query = q
		}
		rec := <-a.send(context.Background(), pqBody(sha(q), query), fakeapi.DefaultToken)
		return decodeShared(t, rec)
	}
	post(true)
	for range 4 {
		res := post(false)
		require.Empty(t, res.Errors)
		assert.JSONEq(t, `{"user": {"id": "7"}}`, string(res.Data))
	}
	assert.Zero(t, a.memory())
}

// TestEveryRequestAnsweredFromMemoryIsLoggedAndCounted: n requests, n log
// lines (each with the request's own id, the ones from memory naming the
// execution whose answer they got), n operations counted and timed, and
// the hits and misses of the remembered answers counted.
func TestEveryRequestAnsweredFromMemoryIsLoggedAndCounted(t *testing.T) {
	const n = 10
	metrics, logs := observe.NewMetrics(), &syncBuffer{}
	a := newAnswersRig(t, withGraph(func(o *graph.Options) {
		o.Metrics, o.Logger = metrics, jsonLogger(logs, slog.LevelInfo)
	}))
	var ids []string
	for range n {
		rec, res := a.post(t, `{ user(id: 7) { id } }`, nil, fakeapi.DefaultToken)
		require.Empty(t, res.Errors)
		ids = append(ids, rec.Header().Get("X-Request-Id"))
	}
	require.Equal(t, n-2, a.memory())

	lines := map[string]map[string]any{}
	for _, l := range logs.lines(t) {
		if l["msg"] == "graphql operation" {
			id, _ := l["requestId"].(string)
			require.NotContains(t, lines, id, "one line per request")
			lines[id] = l
		}
	}
	require.Len(t, lines, n)
	for i, id := range ids {
		l := lines[id]
		require.NotNil(t, l, "request %d's line", i)
		assert.Equal(t, "ok", l["outcome"])
		assert.Equal(t, "query", l["operationType"])
		assert.EqualValues(t, 0, l["upstreamCalls"])
		if i < 2 {
			assert.NotContains(t, l, "sharedWith", "request %d executed", i)
			continue
		}
		assert.Equal(t, ids[1], l["sharedWith"], "request %d names the execution whose answer it got", i)
	}

	snap := scrape(t, metrics)
	assert.EqualValues(t, n, snap.value("salesgraph_graphql_operations_total", map[string]string{"operation": observe.OpAnonymous, "outcome": "ok"}))
	count, _ := snap.histogram("salesgraph_graphql_operation_duration_seconds", map[string]string{"outcome": "ok"})
	assert.EqualValues(t, n, count)
	assert.EqualValues(t, n-2, snap.value("salesgraph_cache_lookups_total", map[string]string{"cache": "operation_answers", "result": "hit"}))
	assert.EqualValues(t, 1, snap.value("salesgraph_cache_lookups_total", map[string]string{"cache": "operation_answers", "result": "miss"}))
	assert.Zero(t, snap.value("salesgraph_graphql_operations_in_flight", nil))
	assert.Zero(t, snap.value("salesgraph_graphql_operations_shared_total", nil), "not shared in flight")
}

// TestAnswersNotRememberedWithoutSharing: DisableOperationSharing executes
// every request, those that need no upstream call included.
func TestAnswersNotRememberedWithoutSharing(t *testing.T) {
	a := newAnswersRig(t, withGraph(func(o *graph.Options) { o.DisableOperationSharing = true }))
	for range 4 {
		_, res := a.post(t, `{ user(id: 7) { id } }`, nil, fakeapi.DefaultToken)
		assert.JSONEq(t, `{"user": {"id": "7"}}`, string(res.Data))
	}
	assert.Zero(t, a.memory())
	assert.Zero(t, a.opLocal.Load())
}
