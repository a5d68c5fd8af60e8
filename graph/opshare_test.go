package graph_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

const opTenant = "Bearer fakeapi-op-tenant"

// opShareRig is a facade whose joins are counted at both levels: requests
// joining an identical operation's execution, and upstream calls joining
// an identical call.
type opShareRig struct {
	*env
	opJoins, opLeaves atomic.Int64
	opLocal, opAlone  atomic.Int64
	opMemory          atomic.Int64 // answered from memory (opcache.go)
	callJoins         atomic.Int64
	cancelledAttempts atomic.Int64
	body              string
}

func newOpShareRig(t *testing.T, opts ...envOption) *opShareRig {
	r := &opShareRig{}
	hook := withGraph(func(o *graph.Options) {
		graph.SetOpShareHook(o, func(event string) {
			switch event {
			case "join":
				r.opJoins.Add(1)
			case "leave":
				r.opLeaves.Add(1)
			case "local":
				r.opLocal.Add(1)
			case "alone":
				r.opAlone.Add(1)
			case "memory":
				r.opMemory.Add(1)
			}
		})
	})
	r.env = newEnv(t, append([]envOption{withFake(fakeapi.WithTenant(opTenant, 2)),
		withClient(restclient.WithShareObserver(func(string) { r.callJoins.Add(1) }),
			restclient.WithObserver(func(ci restclient.CallInfo) {
				if ci.Class.Kind == restclient.KindCanceled {
					r.cancelledAttempts.Add(1)
				}
			})), hook}, opts...)...)
	b, err := json.Marshal(map[string]string{"query": sharedQuery})
	require.NoError(t, err)
	r.body = string(b)
	return r
}

// send posts body with credential in ctx, on its own goroutine, with the
// headers named in extra set to "x".
func (r *opShareRig) send(ctx context.Context, body, credential string, extra ...string) <-chan *httptest.ResponseRecorder {
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", credential)
		for _, h := range extra {
			if h != "" {
				req.Header.Set(h, "x")
			}
		}
		rec := httptest.NewRecorder()
		r.handler.ServeHTTP(rec, req)
		out <- rec
	}()
	return out
}

func (r *opShareRig) calls(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return r.upstream.Calls() == n }, 5*time.Second, time.Millisecond, "%d upstream calls", n)
}

// TestIdenticalOperationsExecuteOnce: the second of two identical requests
// waits for the first one's execution and gets its response byte for byte,
// with its own request id; no call of its own reaches the upstream or even
// the client's call sharing.
func TestIdenticalOperationsExecuteOnce(t *testing.T) {
	r := newOpShareRig(t)
	release := r.upstream.Hold()
	defer release()
	first := r.send(context.Background(), r.body, fakeapi.DefaultToken)
	r.calls(t, 4)
	then := r.send(context.Background(), r.body, fakeapi.DefaultToken)
	require.Eventually(t, func() bool { return r.opJoins.Load() == 1 }, 5*time.Second, time.Millisecond)
	release()

	a, b := <-first, <-then
	require.Equal(t, http.StatusOK, a.Code)
	assert.Equal(t, a.Code, b.Code)
	assert.Equal(t, a.Body.String(), b.Body.String())
	var res gqlResponse
	require.NoError(t, json.Unmarshal(a.Body.Bytes(), &res))
	require.Empty(t, res.Errors)
	assertSharedAnswer(t, r.env, res.Data)
	assert.Equal(t, a.Header().Get("Content-Type"), b.Header().Get("Content-Type"))
	assert.NotEmpty(t, b.Header().Get("X-Request-Id"))
	assert.NotEqual(t, a.Header().Get("X-Request-Id"), b.Header().Get("X-Request-Id"), "each its own request id")
	assert.Equal(t, 4, r.upstream.Calls(), "one execution's calls")
	assert.Zero(t, r.callJoins.Load(), "the second request never executed")
}

// TestOperationsNotShared: a different credential, or a batch, executes on
// its own even while an identical request is being executed.
func TestOperationsNotShared(t *testing.T) {
	for _, tc := range []struct {
		name, credential string
		header           string // sent with the second request only
		batch            bool
		// sharedCalls says whether the second's upstream calls join the
		// first's: they do when the requests differ in a header that is
		// not sent upstream.
		sharedCalls bool
	}{
		{name: "different credential", credential: opTenant},
		{name: "a header that is not forwarded differs", credential: fakeapi.DefaultToken, header: "Accept-Language", sharedCalls: true},
		{name: "batch", credential: fakeapi.DefaultToken, batch: true, sharedCalls: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newOpShareRig(t, withGraph(func(o *graph.Options) { o.Batching = true }))
			body := r.body
			if tc.batch {
				body = "[" + body + "]"
			}
			release := r.upstream.Hold()
			defer release()
			first := r.send(context.Background(), body, fakeapi.DefaultToken)
			r.calls(t, 4)
			then := r.send(context.Background(), body, tc.credential, tc.header)
			if tc.sharedCalls {
				require.Eventually(t, func() bool { return r.callJoins.Load() == 4 }, 5*time.Second, time.Millisecond, "executed, its calls joining the first's")
			} else {
				r.calls(t, 8) // its own calls, sent while the first's are held
			}
			release()
			a, b := <-first, <-then
			require.Equal(t, http.StatusOK, a.Code)
			require.Equal(t, http.StatusOK, b.Code)
			assert.Zero(t, r.opJoins.Load(), "executed on its own")
			if tc.sharedCalls {
				assert.Equal(t, a.Body.String(), b.Body.String())
				assert.Equal(t, 4, r.upstream.Calls())
			} else {
				assert.Zero(t, r.callJoins.Load(), "different credentials share no upstream call either")
				assert.NotEqual(t, a.Body.String(), b.Body.String(), "each credential's own data")
			}
		})
	}
}

// TestSharedOperationSurvivesTheFirstCallerLeaving: the request that
// started the execution goes away; the execution goes on and answers the
// other.
func TestSharedOperationSurvivesTheFirstCallerLeaving(t *testing.T) {
	r := newOpShareRig(t)
	release := r.upstream.Hold()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	first := r.send(ctx, r.body, fakeapi.DefaultToken)
	r.calls(t, 4)
	then := r.send(context.Background(), r.body, fakeapi.DefaultToken)
	require.Eventually(t, func() bool { return r.opJoins.Load() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	require.Eventually(t, func() bool { return r.opLeaves.Load() == 1 }, 5*time.Second, time.Millisecond, "the first stopped waiting")

	release()
	b := <-then
	require.Equal(t, http.StatusOK, b.Code)
	var res gqlResponse
	require.NoError(t, json.Unmarshal(b.Body.Bytes(), &res))
	require.Empty(t, res.Errors, "the execution was not cancelled")
	assertSharedAnswer(t, r.env, res.Data)
	<-first
	assert.Zero(t, r.cancelledAttempts.Load())
	assert.Equal(t, 4, r.upstream.Calls())
}

// TestSharedOperationCancelledWhenEveryCallerLeft: once both requests have
// gone, the execution's upstream calls are cancelled, and the next identical
// request executes afresh.
func TestSharedOperationCancelledWhenEveryCallerLeft(t *testing.T) {
	r := newOpShareRig(t)
	release := r.upstream.Hold()
	defer release()
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	first := r.send(ctx1, r.body, fakeapi.DefaultToken)
	r.calls(t, 4)
	then := r.send(ctx2, r.body, fakeapi.DefaultToken)
	require.Eventually(t, func() bool { return r.opJoins.Load() == 1 }, 5*time.Second, time.Millisecond)
	cancel1()
	cancel2()
	<-then // at once
	// While the fake still holds them: only a cancellation ends them.
	require.Eventually(t, func() bool { return r.cancelledAttempts.Load() == 4 }, 5*time.Second, time.Millisecond,
		"the execution's four upstream calls were cancelled")
	<-first // ends with its cancelled execution
	release()

	rec := <-r.send(context.Background(), r.body, fakeapi.DefaultToken)
	require.Equal(t, http.StatusOK, rec.Code)
	var res gqlResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	require.Empty(t, res.Errors)
	assert.Equal(t, 8, r.upstream.Calls(), "a new execution, with calls of its own")
}

// TestOperationsWithoutUpstreamCallsNotShared: once an execution's estimate
// gave its operation no upstream call, requests with the same body execute
// on their own without a key; a body whose operation calls the upstream,
// or that was refused before the estimate, stays shared.
func TestOperationsWithoutUpstreamCallsNotShared(t *testing.T) {
	r := newOpShareRig(t)
	post := func(query string, variables map[string]any) gqlResponse {
		t.Helper()
		b, err := json.Marshal(map[string]any{"query": query, "variables": variables})
		require.NoError(t, err)
		rec := <-r.send(context.Background(), string(b), fakeapi.DefaultToken)
		var res gqlResponse
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
		return res
	}
	for i := range 3 {
		res := post(`{ user(id: 7) { id } }`, nil)
		require.Empty(t, res.Errors)
		assert.JSONEq(t, `{"user": {"id": "7"}}`, string(res.Data))
		assert.Equal(t, int64(i), r.opLocal.Load(), "the first execution learns it; the others skip sharing")
	}
	require.Zero(t, r.upstream.Calls())

	byVar := `query($id: ID!) { user(id: $id) { id } }`
	for range 2 {
		res := post(byVar, map[string]any{"id": 8})
		require.Empty(t, res.Errors)
		assert.JSONEq(t, `{"user": {"id": "8"}}`, string(res.Data))
	}
	assert.Equal(t, int64(3), r.opLocal.Load(), "variables and all, the body is what is remembered")

	for range 2 {
		res := post(sharedQuery, nil)
		require.Empty(t, res.Errors)
		res = post(`{ user(id: 7) { nope } }`, nil) // refused by validation: never estimated
		require.Len(t, res.Errors, 1)
	}
	assert.Equal(t, int64(3), r.opLocal.Load(), "operations that call the upstream, and refused ones, are shared")
	assert.Equal(t, 8, r.upstream.Calls(), "sharedQuery executed twice, four calls each")
}

// sendAs posts the rig's body with the demo credential and the caller's own
// X-Request-Id, which the key leaves out.
func (r *opShareRig) sendAs(ctx context.Context, requestID string) <-chan *httptest.ResponseRecorder {
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", fakeapi.DefaultToken)
		if requestID != "" {
			req.Header.Set("X-Request-Id", requestID)
		}
		rec := httptest.NewRecorder()
		r.handler.ServeHTTP(rec, req)
		out <- rec
	}()
	return out
}

// answered waits, generously, for a request's answer.
func answered(t *testing.T, c <-chan *httptest.ResponseRecorder, what string) *httptest.ResponseRecorder {
	t.Helper()
	select {
	case rec := <-c:
		return rec
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer", what)
		return nil
	}
}

// decodeShared decodes an answer and checks that every error names the
// request's own id, the one in its X-Request-Id, and that Content-Length
// says the body's length.
func decodeShared(t *testing.T, rec *httptest.ResponseRecorder) gqlResponse {
	t.Helper()
	var res gqlResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res), rec.Body.String())
	id := rec.Header().Get("X-Request-Id")
	require.NotEmpty(t, id)
	for _, e := range res.Errors {
		assert.Equal(t, id, e.Extensions["requestId"], "each request's errors name its own id")
	}
	if cl := rec.Header().Get("Content-Length"); cl != "" {
		assert.Equal(t, strconv.Itoa(rec.Body.Len()), cl)
	}
	return res
}

// TestSharedErrorsAreHandedOver: an execution whose upstream calls fail
// answers every request waiting for it, each with its own request id in
// its errors and X-Request-Id, instead of each executing again (twice the
// deadline, and the failing upstream asked once per waiting request).
func TestSharedErrorsAreHandedOver(t *testing.T) {
	metrics := observe.NewMetrics()
	r := newOpShareRig(t, withGraph(func(o *graph.Options) { o.Metrics = metrics }))
	release := r.upstream.Hold()
	defer release()
	first := r.sendAs(context.Background(), "")
	r.calls(t, 4)
	// Ids of other lengths than the generated one: the body's length changes.
	ids := []string{"w1", "waiter-two", "a-much-longer-request-id-of-waiter-number-three"}
	var waiters []<-chan *httptest.ResponseRecorder
	for _, id := range ids {
		waiters = append(waiters, r.sendAs(context.Background(), id))
	}
	require.Eventually(t, func() bool { return r.opJoins.Load() == int64(len(ids)) }, 5*time.Second, time.Millisecond)
	r.upstream.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500})
	release()

	a := answered(t, first, "the first request")
	firstRes := decodeShared(t, a)
	require.NotEmpty(t, firstRes.Errors)
	firstID := a.Header().Get("X-Request-Id")
	for _, e := range firstRes.Errors {
		assert.Equal(t, graph.CodeUpstreamUnavailable, e.code())
	}
	errs := len(firstRes.Errors)
	for i, c := range waiters {
		b := answered(t, c, ids[i])
		assert.Equal(t, a.Code, b.Code)
		assert.Equal(t, ids[i], b.Header().Get("X-Request-Id"))
		res := decodeShared(t, b)
		assert.Len(t, res.Errors, len(firstRes.Errors))
		errs += len(res.Errors)
		assert.Equal(t,
			strings.ReplaceAll(a.Body.String(), `"requestId":"`+firstID+`"`, `"requestId":"`+ids[i]+`"`),
			b.Body.String(), "the execution's answer, with the request's own id")
	}
	assert.Equal(t, 4, r.upstream.Calls(), "one execution reached the upstream")
	assert.Zero(t, r.opAlone.Load(), "no request executed again")
	snap := scrape(t, metrics)
	assert.EqualValues(t, errs, snap.value("salesgraph_graphql_errors_total", map[string]string{"code": graph.CodeUpstreamUnavailable}),
		"every request's errors are counted")
	assert.EqualValues(t, 1+len(ids), snap.value("salesgraph_graphql_operations_total", map[string]string{"outcome": "partial"}))
	assert.EqualValues(t, len(ids), snap.value("salesgraph_graphql_operations_shared_total", nil))
}

// TestWaitersAnswerWithinTheirOwnDeadline: requests whose deadline (counted
// from their arrival) passes while they wait for an identical request's
// execution answer at once, with an OPERATION_TIMEOUT of their own,
// although the execution goes on: it is held at the upstream, with its own
// deadline far off. They reach no upstream, and the execution still answers
// its own request in full.
func TestWaitersAnswerWithinTheirOwnDeadline(t *testing.T) {
	const timeout = time.Minute
	var late atomic.Bool
	r := newOpShareRig(t, withGraph(func(o *graph.Options) {
		o.OperationTimeout = timeout
		graph.SetOpShareClock(o, func() time.Time {
			if late.Load() {
				return time.Now().Add(-2 * timeout) // arrived two deadlines ago
			}
			return time.Now()
		})
	}))
	release := r.upstream.Hold()
	defer release()
	first := r.sendAs(context.Background(), "")
	r.calls(t, 4)
	late.Store(true)

	for _, id := range []string{"late-1", "late-2"} {
		rec := answered(t, r.sendAs(context.Background(), id), id+", while the execution is held")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Equal(t, id, rec.Header().Get("X-Request-Id"))
		res := decodeShared(t, rec)
		require.NotEmpty(t, res.Errors)
		for _, e := range res.Errors {
			assert.Equal(t, graph.CodeOperationTimeout, e.code(), "%+v", e)
		}
	}
	assert.EqualValues(t, 2, r.opJoins.Load(), "both waited for the execution")
	assert.EqualValues(t, 2, r.opLeaves.Load(), "and stopped waiting")
	assert.EqualValues(t, 2, r.opAlone.Load(), "each answered on its own")
	assert.Equal(t, 4, r.upstream.Calls(), "out of time, they called no upstream")
	select {
	case <-first:
		t.Fatal("the execution ended with the waiters")
	default:
	}

	release()
	a := answered(t, first, "the first request")
	require.Equal(t, http.StatusOK, a.Code)
	res := decodeShared(t, a)
	require.Empty(t, res.Errors)
	assertSharedAnswer(t, r.env, res.Data)
}

// TestEveryRequestASharedExecutionAnswersIsLoggedAndCounted: twenty
// requests answered by one execution are twenty log lines, each with its
// own request id, the nineteen that joined naming the execution's
// (sharedWith), and twenty operations counted, nineteen of them shared. A
// request whose client leaves while it waits is logged and counted too.
// Only the execution's line counts upstream calls: the exchanges the fake
// saw.
func TestEveryRequestASharedExecutionAnswersIsLoggedAndCounted(t *testing.T) {
	const n = 20
	metrics, logs := observe.NewMetrics(), &syncBuffer{}
	r := newOpShareRig(t, withGraph(func(o *graph.Options) {
		o.Metrics, o.Logger = metrics, jsonLogger(logs, slog.LevelInfo)
	}))
	release := r.upstream.Hold()
	defer release()
	answers := []<-chan *httptest.ResponseRecorder{r.sendAs(context.Background(), "")}
	r.calls(t, 4)
	for range n - 1 {
		answers = append(answers, r.sendAs(context.Background(), ""))
	}
	require.Eventually(t, func() bool { return r.opJoins.Load() == n-1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	gone := r.sendAs(ctx, "gone")
	require.Eventually(t, func() bool { return r.opJoins.Load() == n }, 5*time.Second, time.Millisecond)
	cancel()
	<-gone
	require.EqualValues(t, 1, r.opLeaves.Load())
	release()

	var ids []string
	for i, c := range answers {
		rec := answered(t, c, "request "+strconv.Itoa(i))
		require.Equal(t, http.StatusOK, rec.Code)
		ids = append(ids, rec.Header().Get("X-Request-Id"))
	}
	lines := map[string]map[string]any{}
	for _, l := range logs.lines(t) {
		if l["msg"] == "graphql operation" {
			id, _ := l["requestId"].(string)
			require.NotContains(t, lines, id, "one line per request")
			lines[id] = l
		}
	}
	require.Len(t, lines, n+1, "a line for each request, the one that left included")
	for i, id := range ids {
		l := lines[id]
		require.NotNil(t, l, "request %d's line", i)
		assert.Equal(t, "ok", l["outcome"])
		if i == 0 {
			assert.NotContains(t, l, "sharedWith", "the execution's own line")
			assert.EqualValues(t, r.upstream.Calls(), l["upstreamCalls"], "the exchanges the upstream saw")
			continue
		}
		assert.Equal(t, ids[0], l["sharedWith"], "request %d names the execution it joined", i)
		assert.EqualValues(t, 0, l["upstreamCalls"])
		assert.EqualValues(t, 0, l["upstreamShared"])
	}
	left := lines["gone"]
	require.NotNil(t, left)
	assert.Equal(t, "error", left["outcome"])
	assert.Equal(t, []any{graph.CodeCancelled}, left["errorCodes"])

	snap := scrape(t, metrics)
	assert.EqualValues(t, n, snap.value("salesgraph_graphql_operations_total", map[string]string{"outcome": "ok"}))
	assert.EqualValues(t, n-1, snap.value("salesgraph_graphql_operations_shared_total", nil))
	count, _ := snap.histogram("salesgraph_graphql_operation_duration_seconds", map[string]string{"outcome": "ok"})
	assert.EqualValues(t, n, count)
	assert.EqualValues(t, 1, snap.value("salesgraph_graphql_errors_total", map[string]string{"code": graph.CodeCancelled}))
	assert.Zero(t, snap.value("salesgraph_graphql_operations_in_flight", nil))
}

// TestOpShareHooksAreEachHandlersOwn: what one handler's sharing does is
// told to its own hook only, so tests with handlers of their own (in
// parallel, say) cannot count each other's events.
func TestOpShareHooksAreEachHandlersOwn(t *testing.T) {
	a, b := newOpShareRig(t), newOpShareRig(t)
	body := `{"query":"{ user(id: 7) { id } }"}`
	for range 3 {
		rec := <-a.send(context.Background(), body, fakeapi.DefaultToken)
		require.Equal(t, http.StatusOK, rec.Code)
	}
	assert.EqualValues(t, 2, a.opLocal.Load(), "a learns the operation needs no call, then skips sharing")
	assert.Zero(t, b.opLocal.Load()+b.opJoins.Load()+b.opLeaves.Load()+b.opAlone.Load(), "b saw none of it")
}
