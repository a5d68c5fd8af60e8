package gqlhttp_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/gqlhttptest"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

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
	q := body(`{ item(id: "7") { id ... @defer { children(first: 2) { id } } } }`, nil)
	for _, c := range []struct{ accept, spec string }{
		{apolloDeferAccept, gqlhttptest.Defer20220824},
		{"multipart/mixed", gqlhttptest.Defer20220824},
		{`multipart/mixed; boundary="-"`, gqlhttptest.Defer20220824},
		{apolloV02Accept, gqlhttptest.IncrementalV02},
		{"multipart/mixed; incrementalSpec=v0.2", gqlhttptest.IncrementalV02},
	} {
		t.Run(c.accept, func(t *testing.T) {
			res := e.send(postReq(q, "Accept", c.accept))
			require.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, `multipart/mixed; boundary="-"; `+c.spec, res.header.Get("Content-Type"), "the chosen format is named")
			assert.Equal(t, "private, no-store", res.header.Get("Cache-Control"))
			assert.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"))
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			require.Len(t, parts, 2)
			assert.Empty(t, parts[0].Errors)
			assert.JSONEq(t, `{"item": {"id": "7"}}`, string(parts[0].Data), "the deferred field is left out, not null")
			require.Len(t, parts[1].Incremental, 1)
			it := parts[1].Incremental[0]
			assert.Empty(t, it.Errors)
			assert.JSONEq(t, `{"children": [{"id": "7.1"}, {"id": "7.2"}]}`, string(it.Data))
			if c.spec == gqlhttptest.IncrementalV02 {
				assert.Equal(t, []gqlhttptest.Pending{{ID: "0", Path: []any{"item"}}}, parts[0].Pending)
				assert.Equal(t, "0", it.ID)
				assert.Equal(t, []gqlhttptest.Completed[gqlError]{{ID: "0"}}, parts[1].Completed)
			} else {
				assert.Equal(t, []any{"item"}, it.Path)
			}
		})
	}
}

// TestDeferredFieldsAreLeftOut: in both formats, a deferred field is in
// no part before its fragment's, and the parts merged as a client merges
// them are the inline answer. Fields with and without a resolver (gqlgen
// defers only the former), aliases, a field selected inside and outside a
// fragment (it belongs to the initial payload), nested fragments, a
// fragment on the root and on an interface.
func TestDeferredFieldsAreLeftOut(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, query, initial string
	}{
		{"resolver", `{ item(id: "7") { id ... @defer { children(first: 2) { id } } } }`, `{"item": {"id": "7"}}`},
		{"no resolver", `{ item(id: "7") { id ... @defer(label: "n") { name color } } }`, `{"item": {"id": "7"}}`},
		{"alias", `{ item(id: "7") { id kid: children(first: 1) { id } ... @defer { kids: children(first: 2) { n: name } p: parent { id } } } }`,
			`{"item": {"id": "7", "kid": [{"id": "7.1"}]}}`},
		{"inside and outside", `{ item(id: "7.2") { id children(first: 1) { id } ... @defer { children(first: 1) { name } parent { id } } } }`,
			`{"item": {"id": "7.2", "children": [{"id": "7.2.1", "name": "item 7.2.1"}]}}`},
		{"nested", `{ items(ids: ["1", "2"]) { id ... @defer(label: "c") { children(first: 2) { id ...P @defer } } } } fragment P on Item { name parent { id ... @defer { name } } }`,
			`{"items": [{"id": "1"}, {"id": "2"}]}`},
		{"nested in a list", `{ item(id: "3") { children(first: 3) { id ... @defer { parent { id } } } } }`,
			`{"item": {"children": [{"id": "3.1"}, {"id": "3.2"}, {"id": "3.3"}]}}`},
		{"root", `{ item(id: "1") { id } ... @defer { hello } }`, `{"item": {"id": "1"}}`},
		{"interface", `{ node(id: "4") { id ... on Item @defer { name children(first: 1) { id } } } }`, `{"node": {"id": "4"}}`},
		{"two labels", `{ item(id: "5") { id ... @defer(label: "a") { name ... @defer(label: "b") { children(first: 1) { id } } } } }`, `{"item": {"id": "5"}}`},
	}
	for _, c := range cases {
		inline := e.post(c.query, nil, "Accept", "application/json")
		require.Empty(t, inline.errors, "%s", inline.body)
		for _, f := range formats {
			t.Run(c.name+" "+f.name, func(t *testing.T) {
				res := e.post(c.query, nil, "Accept", f.accept)
				parts := readParts(t, res.header.Get("Content-Type"), res.body)
				require.Greater(t, len(parts), 1, "%s", res.body)
				assert.JSONEq(t, c.initial, string(parts[0].Data))
				merged, errs := merge(t, parts)
				assert.Empty(t, errs)
				assert.JSONEq(t, string(inline.data), gqlhttptest.JSON(t, merged), "%s", gqlhttptest.String(parts))
			})
		}
	}
}

// TestAFailedFragment: a field error inside a deferred fragment comes with
// its data; a null that reaches the fragment (a non-null field failed)
// fails the fragment alone, its error where each format puts it, the rest
// of the answer standing.
func TestAFailedFragment(t *testing.T) {
	e := newEnv(t)
	res := e.post(`{ item(id: "7") { id ... @defer(label: "f") { name fail } ... @defer(label: "x") { children(first: 5000) { id } } } }`, nil, "Accept", apolloV02Accept)
	parts := readParts(t, res.header.Get("Content-Type"), res.body)
	data, errs := merge(t, parts)
	assert.JSONEq(t, `{"item": {"id": "7", "name": "item 7", "fail": null}}`, gqlhttptest.JSON(t, data))
	require.Len(t, errs, 2)
	byLabel := map[string]string{}
	for _, p := range parts[0].Pending {
		byLabel[p.Label] = p.ID
	}
	require.Len(t, byLabel, 2)
	var inc []gqlhttptest.Incremental[gqlError]
	var done []gqlhttptest.Completed[gqlError]
	for _, pl := range parts[1:] {
		inc = append(inc, pl.Incremental...)
		done = append(done, pl.Completed...)
	}
	require.Len(t, inc, 1, "the failed fragment has no data")
	assert.Equal(t, byLabel["f"], inc[0].ID)
	require.Len(t, inc[0].Errors, 1)
	assert.Equal(t, []any{"item", "fail"}, inc[0].Errors[0].Path)
	require.Len(t, done, 2)
	for _, c := range done {
		if c.ID == byLabel["x"] {
			require.Len(t, c.Errors, 1)
			assert.Equal(t, []any{"item", "children"}, c.Errors[0].Path)
			assert.Equal(t, gqlhttp.CodeInternal, c.Errors[0].code())
		} else {
			assert.Empty(t, c.Errors)
		}
	}

	// 2022: the failed fragment's data is null, its errors beside it.
	res = e.post(`{ item(id: "7") { id ... @defer(label: "x") { children(first: 5000) { id } } } }`, nil, "Accept", apolloDeferAccept)
	parts = readParts(t, res.header.Get("Content-Type"), res.body)
	require.Len(t, parts, 2)
	require.Len(t, parts[1].Incremental, 1)
	it := parts[1].Incremental[0]
	assert.Equal(t, "null", string(it.Data))
	assert.Equal(t, "x", it.Label)
	require.Len(t, it.Errors, 1)
	assert.Equal(t, []any{"item", "children"}, it.Errors[0].Path)
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
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			r := &testschema.Resolver{Gate: make(chan struct{}), Arrived: make(chan struct{}, 3)}
			e := newEnvWith(t, r)
			done := make(chan *httpResult, 1)
			go func() {
				done <- e.post(`{ items(ids: ["1", "2", "3"]) { id ... @defer { slow } } }`, nil, "Accept", f.accept)
			}()
			arrivals(t, r, 3)
			close(r.Gate)
			res := <-done
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			data, errs := merge(t, parts)
			assert.Empty(t, errs)
			assert.JSONEq(t, `{"items": [{"id": "1", "slow": "slow 1"}, {"id": "2", "slow": "slow 2"}, {"id": "3", "slow": "slow 3"}]}`, gqlhttptest.JSON(t, data))
		})
	}
}

// TestNestedDeferMatchesTheInlineAnswer merges the parts of a response with
// nested and labelled deferred fragments and compares the result with the
// inline answer to the same document.
func TestNestedDeferMatchesTheInlineAnswer(t *testing.T) {
	e := newEnv(t)
	q := body(`{ items(ids: ["1", "2"]) { id ... @defer(label: "c") { children(first: 3) { id name ... @defer { parent { id name } } } } } }`, nil)
	inline := e.send(postReq(q, "Accept", "application/json"))
	require.Empty(t, inline.errors)
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			res := e.send(postReq(q, "Accept", f.accept))
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			labels := gqlhttptest.Labels(parts)
			assert.Equal(t, 2, labels["c"], "one labelled fragment per item")
			assert.Equal(t, 6, labels[""], "one fragment per child's parent")
			merged, errs := merge(t, parts)
			assert.Empty(t, errs)
			got := gqlhttptest.JSON(t, merged)
			assert.JSONEq(t, string(inline.data), got, "%s", gqlhttptest.String(parts))
			assert.Contains(t, string(inline.data), `{"id":"2.3","name":"item 2.3","parent":{"id":"2","name":"item 2"}}`)
		})
	}
}

// TestNestedPayloadsWaitForTheirObject holds a deferred fragment at a gate
// until the executor has sent the payloads of the fragments nested in it,
// which then wait for their objects, until the executor's last payload
// brings them: each is placed once its object is, with its values.
func TestNestedPayloadsWaitForTheirObject(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			r := &testschema.Resolver{Gate: make(chan struct{})}
			e := newEnvWith(t, r)
			reads := make(chan struct{}, 10)
			e.srv.Use(payloadReads{reads})
			done := make(chan *httpResult, 1)
			go func() {
				done <- e.post(`{ item(id: "7") { id ... @defer { children(first: 2) { id ... @defer { parent { id } } } slow } } }`, nil, "Accept", f.accept)
			}()
			for i := range 2 {
				select {
				case <-reads:
				case <-time.After(10 * time.Second):
					t.Fatalf("%d of the 2 nested payloads were read", i)
				}
			}
			close(r.Gate)
			res := <-done
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			data, errs := merge(t, parts)
			assert.Empty(t, errs)
			assert.JSONEq(t, `{"item": {"id": "7", "children": [{"id": "7.1", "parent": {"id": "7"}}, {"id": "7.2", "parent": {"id": "7"}}], "slow": "slow 7"}}`,
				gqlhttptest.JSON(t, data), "%s", gqlhttptest.String(parts))
		})
	}
}

// payloadReads tells of each subsequent payload the transport reads.
type payloadReads struct{ subsequent chan<- struct{} }

func (payloadReads) ExtensionName() string                   { return "payloadReads" }
func (payloadReads) Validate(graphql.ExecutableSchema) error { return nil }

func (p payloadReads) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil && gqlhttp.PayloadFrom(ctx) == gqlhttp.PayloadSubsequent {
		p.subsequent <- struct{}{}
	}
	return resp
}

func TestIncrementalNegotiation(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.Batching = true })
	plain := body(`{ item(id: "1") { id } }`, nil)
	deferred := body(`{ item(id: "1") { id ... @defer { name } } }`, nil)
	cases := []struct {
		name, body, accept string
		status             int
		multipart          string // the format of a multipart answer
		code               string
	}{
		{name: "no @defer, JSON accepted too: JSON", body: plain, accept: apolloDeferAccept, status: 200},
		{name: "no @defer, v0.2 and JSON accepted: JSON", body: plain, accept: apolloV02Accept, status: 200},
		{name: "no @defer, only multipart accepted: one part", body: plain, accept: "multipart/mixed", status: 200, multipart: gqlhttptest.Defer20220824},
		{name: "no @defer, only v0.2 accepted: one part", body: plain, accept: "multipart/mixed;incrementalSpec=v0.2", status: 200, multipart: gqlhttptest.IncrementalV02},
		{name: "Defer20220824Handler", body: deferred, accept: apolloDeferAccept, status: 200, multipart: gqlhttptest.Defer20220824},
		{name: "GraphQL17Alpha9Handler", body: deferred, accept: apolloV02Accept, status: 200, multipart: gqlhttptest.IncrementalV02},
		{name: "no spec parameter: 2022", body: deferred, accept: "multipart/mixed, application/json", status: 200, multipart: gqlhttptest.Defer20220824},
		{name: "the higher q wins", body: deferred, accept: "multipart/mixed;deferSpec=20220824;q=0.5, multipart/mixed;incrementalSpec=v0.2;q=0.8", status: 200, multipart: gqlhttptest.IncrementalV02},
		{name: "the higher q wins, 2022", body: deferred, accept: "multipart/mixed;incrementalSpec=v0.2;q=0.5, multipart/mixed;deferSpec=20220824", status: 200, multipart: gqlhttptest.Defer20220824},
		{name: "a named format over none", body: deferred, accept: "multipart/mixed, multipart/mixed;incrementalSpec=v0.2", status: 200, multipart: gqlhttptest.IncrementalV02},
		{name: "another incrementalSpec, JSON accepted: inline", body: deferred, accept: "multipart/mixed;incrementalSpec=v0.1, application/json", status: 200},
		{name: "another incrementalSpec is not ours", body: deferred, accept: "multipart/mixed;incrementalSpec=v0.1", status: 406, code: gqlhttp.CodeNotAcceptable},
		{name: "two specs at once are not ours", body: deferred, accept: "multipart/mixed;incrementalSpec=v0.2;deferSpec=20220824", status: 406, code: gqlhttp.CodeNotAcceptable},
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
			if c.multipart != "" {
				parts := readParts(t, res.header.Get("Content-Type"), res.body)
				assert.Equal(t, c.multipart, parts[0].Spec)
				if c.body == plain {
					require.Len(t, parts, 1)
					assert.JSONEq(t, `{"item": {"id": "1"}}`, string(parts[0].Data))
					assert.Empty(t, parts[0].Pending)
					return
				}
				data, errs := merge(t, parts)
				assert.Empty(t, errs)
				assert.JSONEq(t, `{"item": {"id": "1", "name": "item 1"}}`, gqlhttptest.JSON(t, data))
				return
			}
			require.True(t, res.isJSON, "%s", res.body)
			assert.Equal(t, c.code, res.code())
			if c.code != "" {
				assert.Equal(t, before, e.calls())
			} else if c.body == deferred {
				assert.JSONEq(t, `{"item": {"id": "1", "name": "item 1"}}`, string(res.data), "inline")
			}
		})
	}
}

// TestDeferredPayloadsKeepTheCaps: errors of deferred payloads are capped
// across the response, and the size limit ends the stream with
// RESPONSE_TOO_LARGE at the payload that crossed it; the hooks are told of
// both.
func TestDeferredPayloadsKeepTheCaps(t *testing.T) {
	for _, f := range formats {
		t.Run("errors "+f.name, func(t *testing.T) {
			e := newEnv(t, func(o *gqlhttp.Options) { o.MaxErrors = 3 })
			res := e.post(`query($ids: [ID!]!) { items(ids: $ids) { id ... @defer { fail } } }`, map[string]any{"ids": ids(5)}, "Accept", f.accept)
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			_, errs := merge(t, parts)
			require.Len(t, errs, 3, "MaxErrors holds across the payloads")
			assert.Equal(t, gqlhttp.CodeInternal, errs[0].code(), "a field error without a code gets one")
			assert.Equal(t, gqlhttp.CodeTooManyErrors, errs[2].code())
			_, _, added, _ := e.events.take()
			assert.Equal(t, []string{"0:" + gqlhttp.CodeTooManyErrors}, added)
		})
		t.Run("size "+f.name, func(t *testing.T) {
			const limit = 1500
			r := &testschema.Resolver{Gate: make(chan struct{})}
			e := newEnvWith(t, r, func(o *gqlhttp.Options) { o.MaxResponseBytes = limit })
			// The deferred fields wait until the initial payload is written, so
			// that it is the deferred payload that crosses the limit.
			w := &gateOnFirstWrite{ResponseRecorder: httptest.NewRecorder(), gate: r.Gate}
			e.handler.ServeHTTP(w, postReq(body(`{ item(id: "1") { id ... @defer { held { children(first: 100) { id name big(bytes: 20) } } } } }`, nil), "Accept", f.accept))
			res := decodeResult(w.Code, w.Header(), w.Body.Bytes())
			assert.LessOrEqual(t, len(res.body), limit+512, "the stream stops at the limit; only the refusal's part may pass it")
			parts := readParts(t, res.header.Get("Content-Type"), res.body)
			require.Len(t, parts, 2)
			assert.JSONEq(t, `{"item": {"id": "1"}}`, string(parts[0].Data))
			var refusal []gqlError
			if f.name == gqlhttptest.IncrementalV02 {
				require.Len(t, parts[0].Pending, 1)
				assert.Empty(t, parts[1].Incremental)
				require.Len(t, parts[1].Completed, 1)
				assert.Equal(t, parts[0].Pending[0].ID, parts[1].Completed[0].ID)
				refusal = parts[1].Completed[0].Errors
			} else {
				require.Len(t, parts[1].Incremental, 1)
				it := parts[1].Incremental[0]
				assert.Equal(t, "null", string(it.Data))
				assert.Equal(t, []any{"item"}, it.Path)
				refusal = it.Errors
			}
			require.Len(t, refusal, 1)
			assert.Equal(t, gqlhttp.CodeResponseTooLarge, refusal[0].code())
			assert.Equal(t, []any{"item"}, refusal[0].Path)
			_, _, added, _ := e.events.take()
			assert.Equal(t, []string{"0:" + gqlhttp.CodeResponseTooLarge}, added)
			assert.Zero(t, e.events.memoryHeld())
		})
	}
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
		for i := range 20 {
			res := e.send(postReq(q, "Accept", formats[i%2].accept))
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
		for i := range 6 {
			ctx, cancel := context.WithCancel(context.Background())
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(q))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", formats[i%2].accept)
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
