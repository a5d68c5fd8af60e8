package gqlhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/gqlhttptest"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

// Apollo Client's Accept for an operation with @defer.
const apolloDeferAccept = "multipart/mixed;deferSpec=20220824,application/json"

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
	q := body(`{ item(id: "7") { id ... @defer { children(first: 2) { id } } } }`, nil)
	for _, accept := range []string{apolloDeferAccept, "multipart/mixed", `multipart/mixed; boundary="-"`} {
		t.Run(accept, func(t *testing.T) {
			res := e.send(postReq(q, "Accept", accept))
			require.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, "private, no-store", res.header.Get("Cache-Control"))
			assert.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"))
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			require.Len(t, parts, 2)
			assert.Empty(t, parts[0].Errors)
			assert.JSONEq(t, `{"item": {"id": "7", "children": null}}`, string(parts[0].Data), "gqlgen holds the deferred field's place")
			require.Len(t, parts[1].Incremental, 1)
			it := parts[1].Incremental[0]
			assert.Equal(t, []any{"item"}, it.Path)
			assert.Empty(t, it.Errors)
			assert.JSONEq(t, `{"children": [{"id": "7.1"}, {"id": "7.2"}]}`, string(it.Data))
		})
	}
}

// TestDeferOverJSONIsInline: a client that takes only JSON gets the whole
// answer in one body, the deferred fields resolved as if not deferred.
func TestDeferOverJSONIsInline(t *testing.T) {
	e := newEnv(t)
	const want = `{"item": {"id": "7", "children": [{"id": "7.1"}]}}`
	for _, q := range []string{
		`{ item(id: "7") { id ... @defer { children(first: 1) { id } } } }`,
		`{ item(id: "7") { id ...C @defer(label: "c") } } fragment C on Item { children(first: 1) { id } }`,
		`query($d: Boolean!) { item(id: "7") { id ... @defer(if: $d) { children(first: 1) { id } } } }`,
	} {
		for _, accept := range []string{"", "application/json", "application/graphql-response+json"} {
			t.Run(accept+" "+q, func(t *testing.T) {
				res := e.send(postReq(body(q, map[string]any{"d": true}), "Accept", accept))
				require.Equal(t, http.StatusOK, res.status)
				require.True(t, res.isJSON, "%s", res.body)
				assert.Empty(t, res.errors)
				assert.JSONEq(t, want, string(res.data))
				assert.NotContains(t, string(res.body), "hasNext")
			})
		}
	}
}

// arrivals waits for n slow fields to be waiting at r's gate at once, so
// that a test fails rather than hangs when they never are.
func arrivals(t *testing.T, r *testschema.Resolver, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-r.Arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d slow fields were waiting together", i, n)
		}
	}
}

// TestDeferredFragmentsRunConcurrently holds the slow fields at a gate that
// the test opens only once all three are waiting at once: deferred
// fragments of different objects are resolved concurrently, and each is
// sent as it completes.
func TestDeferredFragmentsRunConcurrently(t *testing.T) {
	r := &testschema.Resolver{Gate: make(chan struct{}), Arrived: make(chan struct{}, 3)}
	e := newEnvWith(t, r)
	done := make(chan *httpResult, 1)
	go func() {
		done <- e.post(`{ items(ids: ["1", "2", "3"]) { id ... @defer { slow } } }`, nil, "Accept", apolloDeferAccept)
	}()
	arrivals(t, r, 3)
	close(r.Gate)
	res := <-done
	parts := readParts(t, res.header.Get("Content-Type"), res.body)
	data, errs := merge(t, parts)
	assert.Empty(t, errs)
	got, err := json.Marshal(data)
	require.NoError(t, err)
	assert.JSONEq(t, `{"items": [{"id": "1", "slow": "slow 1"}, {"id": "2", "slow": "slow 2"}, {"id": "3", "slow": "slow 3"}]}`, string(got))
}

// TestNestedDeferMatchesTheInlineAnswer merges the parts of a response with
// nested and labelled deferred fragments and compares the result with the
// inline answer to the same document.
func TestNestedDeferMatchesTheInlineAnswer(t *testing.T) {
	e := newEnv(t)
	q := body(`{ items(ids: ["1", "2"]) { id ... @defer(label: "c") { children(first: 3) { id name ... @defer { parent { id name } } } } } }`, nil)
	res := e.send(postReq(q, "Accept", apolloDeferAccept))
	parts := readParts(t, res.header.Get("Content-Type"), res.body)
	labels := map[string]int{}
	for _, pl := range parts[1:] {
		for _, it := range pl.Incremental {
			labels[it.Label]++
		}
	}
	assert.Equal(t, 2, labels["c"], "one labelled payload per item")
	assert.Equal(t, 6, labels[""], "one payload per child's parent")
	merged, errs := merge(t, parts)
	assert.Empty(t, errs)
	got, err := json.Marshal(merged)
	require.NoError(t, err)

	inline := e.send(postReq(q, "Accept", "application/json"))
	require.Empty(t, inline.errors)
	assert.JSONEq(t, string(inline.data), string(got))
	assert.Contains(t, string(got), `{"id":"2.3","name":"item 2.3","parent":{"id":"2","name":"item 2"}}`)
}

func TestIncrementalNegotiation(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.Batching = true })
	plain := body(`{ item(id: "1") { id } }`, nil)
	deferred := body(`{ item(id: "1") { id ... @defer { name } } }`, nil)
	cases := []struct {
		name, body, accept string
		status             int
		multipart          bool
		code               string
	}{
		{name: "no @defer, JSON accepted too: JSON", body: plain, accept: apolloDeferAccept, status: 200},
		{name: "no @defer, only multipart accepted: one part", body: plain, accept: "multipart/mixed", status: 200, multipart: true},
		{name: "another deferSpec is not ours", body: deferred, accept: "multipart/mixed;deferSpec=20230101", status: 406, code: gqlhttp.CodeNotAcceptable},
		{name: "multipart subscriptions are not @defer", body: deferred, accept: `multipart/mixed;boundary="graphql";subscriptionSpec=1.0`, status: 406, code: gqlhttp.CodeNotAcceptable},
		{name: "q=0 refuses", body: deferred, accept: "multipart/mixed;q=0", status: 406, code: gqlhttp.CodeNotAcceptable},
		{name: "a batch is JSON only", body: "[" + plain + "]", accept: "multipart/mixed", status: 406, code: gqlhttp.CodeNotAcceptable},
		{name: "a refusal is not streamed", body: body(`{ item(id: "1") { nope ... @defer { name } } }`, nil), accept: "multipart/mixed", status: 400, code: gqlhttp.CodeValidationFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.calls()
			res := e.send(postReq(c.body, "Accept", c.accept))
			assert.Equal(t, c.status, res.status, "%s", res.body)
			if c.multipart {
				parts := readParts(t, res.header.Get("Content-Type"), res.body)
				require.Len(t, parts, 1)
				assert.JSONEq(t, `{"item": {"id": "1"}}`, string(parts[0].Data))
				return
			}
			require.True(t, res.isJSON, "%s", res.body)
			assert.Equal(t, c.code, res.code())
			if c.code != "" {
				assert.Equal(t, before, e.calls())
			}
		})
	}
}

// TestDeferredPayloadsKeepTheCaps: errors of deferred payloads are capped
// across the response, and the size limit ends the stream with
// RESPONSE_TOO_LARGE at the payload that crossed it; the hooks are told of
// both.
func TestDeferredPayloadsKeepTheCaps(t *testing.T) {
	t.Run("errors", func(t *testing.T) {
		e := newEnv(t, func(o *gqlhttp.Options) { o.MaxErrors = 3 })
		res := e.post(`query($ids: [ID!]!) { items(ids: $ids) { id ... @defer { fail } } }`, map[string]any{"ids": ids(5)}, "Accept", apolloDeferAccept)
		parts := readParts(t, res.header.Get("Content-Type"), res.body)
		_, errs := merge(t, parts)
		require.Len(t, errs, 3, "MaxErrors holds across the payloads")
		assert.Equal(t, gqlhttp.CodeInternal, errs[0].code(), "a field error without a code gets one")
		assert.Equal(t, gqlhttp.CodeTooManyErrors, errs[2].code())
		_, _, added, _ := e.events.take()
		assert.Equal(t, []string{"0:" + gqlhttp.CodeTooManyErrors}, added)
	})
	t.Run("size", func(t *testing.T) {
		const limit = 1500
		r := &testschema.Resolver{Gate: make(chan struct{})}
		e := newEnvWith(t, r, func(o *gqlhttp.Options) { o.MaxResponseBytes = limit })
		// The deferred fields wait until the initial payload is written, so
		// that it is the deferred payload that crosses the limit.
		w := &gateOnFirstWrite{ResponseRecorder: httptest.NewRecorder(), gate: r.Gate}
		e.handler.ServeHTTP(w, postReq(body(`{ item(id: "1") { id ... @defer { held { children(first: 100) { id name big(bytes: 20) } } } } }`, nil), "Accept", apolloDeferAccept))
		res := decodeResult(w.Code, w.Header(), w.Body.Bytes())
		assert.LessOrEqual(t, len(res.body), limit+512, "the stream stops at the limit; only the refusal's part may pass it")
		parts := readParts(t, res.header.Get("Content-Type"), res.body)
		require.Len(t, parts, 2)
		assert.JSONEq(t, `{"item": {"id": "1", "held": null}}`, string(parts[0].Data))
		require.Len(t, parts[1].Incremental, 1)
		it := parts[1].Incremental[0]
		assert.Equal(t, "null", string(it.Data))
		assert.Equal(t, []any{"item"}, it.Path)
		require.Len(t, it.Errors, 1)
		assert.Equal(t, gqlhttp.CodeResponseTooLarge, it.Errors[0].code())
		_, _, added, _ := e.events.take()
		assert.Equal(t, []string{"0:" + gqlhttp.CodeResponseTooLarge}, added)
		assert.Zero(t, e.events.memoryHeld())
	})
}

// gateOnFirstWrite opens gate once the first bytes of the response are
// written.
type gateOnFirstWrite struct {
	*httptest.ResponseRecorder
	gate chan struct{}
	once sync.Once
}

func (w *gateOnFirstWrite) Write(b []byte) (int, error) {
	n, err := w.ResponseRecorder.Write(b)
	w.once.Do(func() { close(w.gate) })
	return n, err
}

// TestAnIncrementalResponseAlwaysEnds: an operation whose deferred field
// outlives its deadline, or whose client leaves, ends its stream and frees
// its handler. (gqlgen drops a deferred payload whose context is done while
// its reader waits for it; run often enough, that would hang here.)
func TestAnIncrementalResponseAlwaysEnds(t *testing.T) {
	q := body(`{ item(id: "7") { id ... @defer { slow } } }`, nil)
	t.Run("deadline", func(t *testing.T) {
		r := &testschema.Resolver{Gate: make(chan struct{})} // never opened
		e := newEnvWith(t, r)
		e.srv.Begin = func(ctx context.Context, _ *http.Request) (context.Context, func()) {
			return context.WithTimeout(ctx, 20*time.Millisecond)
		}
		for range 20 {
			res := e.send(postReq(q, "Accept", apolloDeferAccept))
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			_, errs := merge(t, parts)
			require.Len(t, errs, 1)
			assert.Equal(t, []any{"item", "slow"}, errs[0].Path, "the deferred field failed as the deadline passed")
		}
	})
	t.Run("client gone", func(t *testing.T) {
		r := &testschema.Resolver{Gate: make(chan struct{}), Arrived: make(chan struct{}, 1)}
		e := newEnvWith(t, r)
		defer close(r.Gate)
		srv := httptest.NewServer(e.handler)
		defer srv.Close()
		for range 5 {
			ctx, cancel := context.WithCancel(context.Background())
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(q))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", apolloDeferAccept)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			arrivals(t, r, 1)
			// The initial payload arrives while the deferred field is held.
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
