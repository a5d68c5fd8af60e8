package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/gqlhttptest"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// @defer through graph.NewHandler: the sales data arrives in parts, the
// deferred fragments' upstream calls leave together, and the caps, the
// deadline and the observability hold across the parts. gqlhttp's tests
// cover the wire format and its negotiation.

// Apollo Client's Accept for an operation with @defer, with each of its
// incremental handlers: Defer20220824Handler and GraphQL17Alpha9Handler.
const (
	apolloDeferAccept = "multipart/mixed;deferSpec=20220824,application/graphql-response+json,application/json;q=0.9"
	apolloV02Accept   = "multipart/mixed;incrementalSpec=v0.2,application/graphql-response+json,application/json;q=0.9"
)

// formats are the incremental formats, each as Apollo Client asks for it.
var formats = []struct{ name, accept string }{
	{gqlhttptest.Defer20220824, apolloDeferAccept},
	{gqlhttptest.IncrementalV02, apolloV02Accept},
}

// incrementalPayload is one part of a multipart/mixed response, read as a
// client reads it (gqlhttptest).
type incrementalPayload = gqlhttptest.Payload[gqlError]

func readParts(t *testing.T, contentType string, body []byte) []incrementalPayload {
	t.Helper()
	return gqlhttptest.ReadParts[gqlError](t, contentType, body)
}

func merge(t *testing.T, parts []incrementalPayload) (any, []gqlError) {
	t.Helper()
	return gqlhttptest.Merge(t, parts)
}

func TestDeferIsDeliveredIncrementally(t *testing.T) {
	e := newEnv(t)
	u7 := user(t, e.data, 7)
	q := body(`{ user(id: "7") { id ... @defer { threads(first: 1) { totalCount } } } }`, nil)
	for _, c := range []struct{ accept, spec string }{
		{apolloDeferAccept, gqlhttptest.Defer20220824},
		{"multipart/mixed", gqlhttptest.Defer20220824},
		{apolloV02Accept, gqlhttptest.IncrementalV02},
	} {
		t.Run(c.accept, func(t *testing.T) {
			e.upstream.Reset()
			res := e.send(postReq(q, "Accept", c.accept))
			require.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, `multipart/mixed; boundary="-"; `+c.spec, res.header.Get("Content-Type"))
			assert.Equal(t, "private, no-store", res.header.Get("Cache-Control"))
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			require.Len(t, parts, 2)
			assert.Empty(t, parts[0].Errors)
			assert.JSONEq(t, `{"user": {"id": "7"}}`, string(parts[0].Data), "threads is left out, not null")
			require.Len(t, parts[1].Incremental, 1)
			it := parts[1].Incremental[0]
			if c.spec == gqlhttptest.IncrementalV02 {
				assert.Equal(t, []gqlhttptest.Pending{{ID: "0", Path: []any{"user"}}}, parts[0].Pending)
				assert.Equal(t, "0", it.ID)
				assert.Equal(t, []gqlhttptest.Completed[gqlError]{{ID: "0"}}, parts[1].Completed)
			} else {
				assert.Equal(t, []any{"user"}, it.Path)
			}
			assert.Empty(t, it.Errors)
			assert.JSONEq(t, fmt.Sprintf(`{"threads": {"totalCount": %d}}`, len(u7.Threads)), string(it.Data))
			assert.Equal(t, 1, e.upstream.CallsTo("/api/v1/users/7/threads"), "the deferred field was fetched, once")
		})
	}
}

// TestDeferredFieldsWithoutResolver: gqlgen resolves a field that has no
// resolver (a meeting's threadId, address) with its object, @defer or not;
// it still arrives in its fragment's part only, null values included, which
// cannot be told from gqlgen's placeholders until gqlgen has sent every
// payload (here, the threads' fragments).
func TestDeferredFieldsWithoutResolver(t *testing.T) {
	e := newEnv(t)
	u := user(t, e.data, 1)
	noThread := 0
	for _, m := range u.Meetings {
		if m.ThreadID == "" {
			noThread++
		}
	}
	require.NotZero(t, noThread, "user 1 has meetings without a thread: their null threadId is what this test is about")
	q := body(`{ user(id: "1") { id meetings(first: 100) { nodes { id ... @defer(label: "ids") { threadId address } ... @defer(label: "t") { thread { name } } } } } }`, nil)
	inline := e.send(postReq(q, "Accept", "application/json"))
	require.Empty(t, inline.errors)
	require.Equal(t, noThread, strings.Count(string(inline.data), `"threadId":null`))
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			res := e.send(postReq(q, "Accept", f.accept))
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			assert.NotContains(t, string(parts[0].Data), "threadId")
			assert.NotContains(t, string(parts[0].Data), "thread")
			merged, errs := merge(t, parts)
			assert.Empty(t, errs)
			assert.JSONEq(t, string(inline.data), gqlhttptest.JSON(t, merged))
		})
	}
}

// TestDeferredFragmentsLoadConcurrently holds the upstream's threads calls
// at a gate that opens only when all three users' calls are in flight at
// once: deferred fragments of different objects are fetched concurrently.
func TestDeferredFragmentsLoadConcurrently(t *testing.T) {
	e := newEnv(t)
	gate := e.upstream.Gate(3)
	done := make(chan *httpResult, 1)
	go func() {
		done <- e.send(postReq(body(`{ users(ids: ["1", "2", "3"]) { id ... @defer { threads(first: 1) { totalCount } } } }`, nil), "Accept", apolloDeferAccept))
	}()
	require.True(t, gate.Wait(10*time.Second), "the three deferred calls were in flight together (%d arrived)", gate.Arrived())
	res := <-done
	parts := readParts(t, res.header.Get("Content-Type"), res.body)
	data, errs := merge(t, parts)
	assert.Empty(t, errs)
	got, err := json.Marshal(data)
	require.NoError(t, err)
	var want []string
	for _, id := range []int64{1, 2, 3} {
		want = append(want, fmt.Sprintf(`{"id": "%d", "threads": {"totalCount": %d}}`, id, len(user(t, e.data, id).Threads)))
	}
	assert.JSONEq(t, `{"users": [`+strings.Join(want, ",")+`]}`, string(got))
	assert.Equal(t, 3, e.upstream.Calls())
}

// TestNestedDeferMatchesTheInlineAnswer merges the parts of a response with
// nested and labelled deferred fragments and compares the result with the
// inline answer to the same document.
func TestNestedDeferMatchesTheInlineAnswer(t *testing.T) {
	e := newEnv(t)
	q := body(`{ users(ids: ["1", "2"]) { id ... @defer(label: "m") { meetings(first: 3) { totalCount nodes { id address ... @defer { thread { id name } } } } } } }`, nil)
	inline := e.send(postReq(q, "Accept", "application/json"))
	require.Empty(t, inline.errors)
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			res := e.send(postReq(q, "Accept", f.accept))
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			labels := gqlhttptest.Labels(parts)
			assert.Equal(t, 2, labels["m"], "one labelled fragment per user")
			assert.Equal(t, 6, labels[""], "one fragment per meeting's thread")
			merged, errs := merge(t, parts)
			assert.Empty(t, errs)
			got := gqlhttptest.JSON(t, merged)
			assert.JSONEq(t, string(inline.data), got)
			// And the values are the dataset's.
			var out struct {
				Users []struct {
					Meetings struct {
						TotalCount int `json:"totalCount"`
					} `json:"meetings"`
				} `json:"users"`
			}
			require.NoError(t, json.Unmarshal([]byte(got), &out))
			require.Len(t, out.Users, 2)
			assert.Equal(t, len(user(t, e.data, 1).Meetings), out.Users[0].Meetings.TotalCount)
			assert.Equal(t, len(user(t, e.data, 2).Meetings), out.Users[1].Meetings.TotalCount)
		})
	}
}

// TestDeferredPayloadsKeepTheCaps: the error cap in both formats
// (capErrors), and the size limit, which ends the stream with
// RESPONSE_TOO_LARGE at the payload that crossed it.
func TestDeferredPayloadsKeepTheCaps(t *testing.T) {
	for _, f := range formats {
		t.Run("errors "+f.name, func(t *testing.T) { capErrors(t, f.accept) })
	}
	t.Run("size", func(t *testing.T) {
		const limit = 1500
		o := newObserved(t, withGraph(func(g *graph.Options) { g.MaxResponseBytes = limit }))
		rec := o.post(body(`{ user(id: "1") { id ... @defer { meetings(first: 100) { nodes { id address startDate endDate hash } } } } }`, nil),
			map[string]string{"Authorization": fakeapi.DefaultToken, "Accept": apolloDeferAccept})
		id := rec.Header().Get("X-Request-Id")
		assert.LessOrEqual(t, rec.Body.Len(), limit+512, "the stream stops at the limit; only the refusal's part may pass it")
		parts := readParts(t, rec.Header().Get("Content-Type"), rec.Body.Bytes())
		require.Len(t, parts, 2)
		assert.JSONEq(t, `{"user": {"id": "1"}}`, string(parts[0].Data))
		require.Len(t, parts[1].Incremental, 1)
		it := parts[1].Incremental[0]
		assert.Equal(t, "null", string(it.Data))
		assert.Equal(t, []any{"user"}, it.Path)
		require.Len(t, it.Errors, 1)
		assert.Equal(t, gqlhttp.CodeResponseTooLarge, it.Errors[0].code())
		assert.Equal(t, id, it.Errors[0].Extensions["requestId"])
		s := scrape(t, o.metrics)
		assert.Equal(t, 1.0, s.value("salesgraph_graphql_errors_total", map[string]string{"code": gqlhttp.CodeResponseTooLarge}))
	})
}

// TestAnIncrementalResponseAlwaysEnds: an operation whose deferred fetch
// outlives its deadline, or whose client leaves, ends its stream and frees
// its handler. (gqlgen drops a deferred payload whose context is done while
// its reader waits for it; run often enough, that would hang here.)
func TestAnIncrementalResponseAlwaysEnds(t *testing.T) {
	q := body(`{ user(id: "7") { id ... @defer { threads(first: 1) { totalCount } } } }`, nil)
	t.Run("deadline", func(t *testing.T) {
		e := newEnv(t, withGraph(func(g *graph.Options) {
			g.OperationTimeout = 20 * time.Millisecond
			g.Logger = slog.New(slog.DiscardHandler)
		}))
		e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/7/threads", Kind: fakeapi.FaultDelay, Delay: time.Minute})
		for i := range 20 {
			res := e.send(postReq(q, "Accept", formats[i%2].accept))
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			_, errs := merge(t, parts)
			require.Len(t, errs, 1)
			assert.Equal(t, graph.CodeOperationTimeout, errs[0].code())
		}
	})
	t.Run("client gone", func(t *testing.T) {
		e := newEnv(t, withGraph(func(g *graph.Options) { g.Logger = slog.New(slog.DiscardHandler) }))
		release := e.upstream.Hold()
		defer release()
		srv := httptest.NewServer(e.handler)
		defer srv.Close()
		for i := range 6 {
			ctx, cancel := context.WithCancel(context.Background())
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(q))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", formats[i%2].accept)
			req.Header.Set("Authorization", fakeapi.DefaultToken)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			// The initial payload arrives while the deferred call is held.
			buf := make([]byte, 4096)
			var got []byte
			for !bytes.Contains(got, []byte(`"hasNext":true`)) {
				n, err := resp.Body.Read(buf)
				require.NoError(t, err)
				got = append(got, buf[:n]...)
			}
			cancel()
			_ = resp.Body.Close()
		}
		// Close waits for every handler to return: none is stuck.
		srv.Close()
	})
}

// capErrors: errors of deferred payloads are capped across the response
// and carry the request id; the operation is logged once and counted once,
// with every code.
func capErrors(t *testing.T, accept string) {
	t.Helper()
	o := newObserved(t, withGraph(func(g *graph.Options) { g.MaxErrors = 3 }))
	o.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/*/threads", Kind: fakeapi.FaultStatus, Status: 404})
	ids := []string{"1", "2", "3", "4", "5"}
	b, err := json.Marshal(map[string]any{"query": `query Deferred($ids: [ID!]!) { users(ids: $ids) { id ... @defer { threads(first: 1) { totalCount } } } }`, "variables": map[string]any{"ids": ids}})
	require.NoError(t, err)
	rec := o.post(string(b), map[string]string{"Authorization": fakeapi.DefaultToken, "Accept": accept})
	id := rec.Header().Get("X-Request-Id")
	parts := readParts(t, rec.Header().Get("Content-Type"), rec.Body.Bytes())
	_, errs := merge(t, parts)
	require.Len(t, errs, 3, "MaxErrors holds across the payloads")
	for _, e := range errs {
		assert.Equal(t, id, e.Extensions["requestId"])
	}
	assert.Equal(t, graph.CodeUpstreamError, errs[0].code())
	assert.Equal(t, gqlhttp.CodeTooManyErrors, errs[2].code())

	var lines []map[string]any
	for _, l := range o.logs.lines(t) {
		if l["msg"] == "graphql operation" && l["requestId"] == id {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 1, "one operation, one line, however many payloads")
	assert.Equal(t, "partial", lines[0]["outcome"])
	assert.EqualValues(t, len(ids)+1, lines[0]["errors"], "every upstream error and the summary")
	s := scrape(t, o.metrics)
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": "Deferred", "outcome": "partial"}))
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_operations_total", nil))
	assert.Equal(t, float64(len(ids)), s.value("salesgraph_graphql_errors_total", map[string]string{"code": graph.CodeUpstreamError}))
	assert.Equal(t, 1.0, s.value("salesgraph_graphql_errors_total", map[string]string{"code": gqlhttp.CodeTooManyErrors}))
}
