package graph_test

import (
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

// @stream through graph.NewHandler: a list's later elements arrive in parts
// of their own, each as soon as the upstream calls it needs have answered,
// with no more upstream calls than the same query without @stream, and the
// caps, masking and request ids holding across the parts.

// streamed sends q as a client of the format f, and returns its parts and
// what a client assembles from them.
func streamed(t *testing.T, e *env, q, accept string) ([]incrementalPayload, string, []gqlError) {
	t.Helper()
	res := e.send(postReq(q, "Accept", accept))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	parts := readParts(t, res.header.Get("Content-Type"), res.body)
	merged, errs := merge(t, parts)
	return parts, gqlhttptest.JSON(t, merged), errs
}

// inline is q's answer to a client that accepts only JSON, and the
// upstream calls it took.
func inline(t *testing.T, e *env, q string) (string, int) {
	t.Helper()
	e.upstream.Reset()
	res := e.send(postReq(q, "Accept", "application/json"))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	require.Equal(t, "application/json", strings.Split(res.header.Get("Content-Type"), ";")[0], "a JSON-only client gets one JSON body")
	require.Empty(t, res.errors)
	return string(res.data), e.upstream.Calls()
}

// TestStreamIsDeliveredIncrementally: the users list and the connections'
// nodes and edges, streamed in both formats with and without an
// initialCount, assemble to the inline answer, with the same upstream
// calls; each part after the first holds one element, in order.
func TestStreamIsDeliveredIncrementally(t *testing.T) {
	e := newEnv(t)
	ids := `["1", "2", "3", "4"]`
	for _, c := range []struct {
		name, query string
		list        []any // the streamed list's path
		n, initial  int
	}{
		{"users", `{ users(ids: ` + ids + `) @stream { id meetings(first: 2) { totalCount nodes { id } } threads(first: 1) { totalCount } } }`, []any{"users"}, 4, 0},
		{"users, initialCount", `{ users(ids: ` + ids + `) @stream(initialCount: 2, label: "people") { id meetings(first: 1) { totalCount } } }`, []any{"users"}, 4, 2},
		{"meeting nodes", `{ user(id: "1") { meetings(first: 5) { nodes @stream(initialCount: 1) { id thread { name } } } } }`, []any{"user", "meetings", "nodes"}, 5, 1},
		{"meeting edges", `{ user(id: "1") { meetings(first: 3) { edges @stream { cursor node { id } } } } }`, []any{"user", "meetings", "edges"}, 3, 0},
		{"thread nodes", `{ user(id: "2") { threads(first: 3) { nodes @stream { id name meetings { id } } } } }`, []any{"user", "threads", "nodes"}, 3, 0},
		{"thread edges", `{ user(id: "2") { threads(first: 2) { edges @stream(initialCount: 1) { node { id } } } } }`, []any{"user", "threads", "edges"}, 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := body(c.query, nil)
			want, calls := inline(t, e, q)
			for _, f := range formats {
				t.Run(f.name, func(t *testing.T) {
					e.upstream.Reset()
					parts, got, errs := streamed(t, e, q, f.accept)
					assert.Empty(t, errs)
					assert.JSONEq(t, want, got)
					assert.Equal(t, calls, e.upstream.Calls(), "the same upstream calls as without @stream")
					require.Len(t, parts, 1+c.n-c.initial, "%s", gqlhttptest.String(parts))
					for i, pl := range parts[1:] {
						require.Len(t, pl.Incremental, 1, "part %d", i+1)
						it := pl.Incremental[0]
						var items []any
						require.NoError(t, json.Unmarshal(it.Items, &items))
						assert.Len(t, items, 1)
						if f.name == gqlhttptest.IncrementalV02 {
							assert.Equal(t, "0", it.ID)
						} else {
							assert.Equal(t, append(append([]any{}, c.list...), float64(c.initial+i)), it.Path)
						}
					}
					if f.name == gqlhttptest.IncrementalV02 {
						label := ""
						if strings.Contains(c.query, "label") {
							label = "people"
						}
						assert.Equal(t, []gqlhttptest.Pending{{ID: "0", Path: c.list, Label: label}}, parts[0].Pending)
						assert.Equal(t, []gqlhttptest.Completed[gqlError]{{ID: "0"}}, parts[len(parts)-1].Completed)
					}
				})
			}
		})
	}
}

// TestAStreamedElementIsSentWhileALaterOneIsHeld holds user 2's upstream
// calls: user 1 arrives, in its own part, while they are held; users 2 and
// 3 (whose calls were answered long before) follow, in order, once user 2's
// are let go.
func TestAStreamedElementIsSentWhileALaterOneIsHeld(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t)
			release := e.upstream.HoldPath("/api/v1/users/2/*")
			defer release()
			srv := httptest.NewServer(e.handler)
			defer srv.Close()
			q := body(`{ users(ids: ["1", "2", "3"]) @stream { id meetings(first: 1) { totalCount } } }`, nil)
			parts, done := openParts(t, srv, q, f.accept)
			defer done()

			// Each read is bounded by a generous deadline, so that a server
			// that waits for user 2 fails the test instead of hanging it.
			next := func() string {
				t.Helper()
				got := make(chan json.RawMessage, 1)
				go func() {
					b, _ := parts.Next(t)
					got <- b
				}()
				select {
				case b := <-got:
					return string(b)
				case <-time.After(30 * time.Second):
					release()
					require.FailNow(t, "no part came while user 2's calls were held")
					return ""
				}
			}
			initial := next()
			assert.Contains(t, initial, `"users":[]`)
			first := next()
			assert.Contains(t, first, `"id":"1"`)
			assert.NotContains(t, first, `"id":"2"`)
			assert.Eventually(t, func() bool { return e.upstream.CallsTo("/api/v1/users/2/meetings") == 1 }, 30*time.Second, time.Millisecond,
				"user 2's call is out, and held")

			release()
			second, third := next(), next()
			assert.Contains(t, second, `"id":"2"`)
			assert.Contains(t, third, `"id":"3"`)
			assert.Contains(t, third, `"hasNext":false`)
			assert.Equal(t, 3, e.upstream.Calls())
		})
	}
}

// TestStreamWithDeferInside: a deferred fragment inside a streamed element
// is announced with its element and delivered after it.
func TestStreamWithDeferInside(t *testing.T) {
	e := newEnv(t)
	q := body(`{ users(ids: ["1", "2", "3"]) @stream(initialCount: 1) { id ... @defer(label: "t") { threads(first: 1) { totalCount } } } }`, nil)
	want, calls := inline(t, e, q)
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e.upstream.Reset()
			parts, got, errs := streamed(t, e, q, f.accept)
			assert.Empty(t, errs)
			assert.JSONEq(t, want, got)
			assert.Equal(t, calls, e.upstream.Calls())
			assert.NotContains(t, string(parts[0].Data), "threads", "deferred in the initial payload too")
		})
	}
}

// TestNestedStreams: a stream inside a deferred fragment, and streams
// inside streamed elements, assemble to the inline answer with the same
// upstream calls.
func TestNestedStreams(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{
		`{ user(id: "1") { id ... @defer { meetings(first: 3) { nodes @stream { id } } } } }`,
		`{ user(id: "2") { threads(first: 2) { nodes @stream { id meetings @stream(initialCount: 1) { id } } } } }`,
		`{ users(ids: ["1", "2"]) @stream { id meetings(first: 2) { edges @stream { node { id ... @defer { thread { name } } } } } } }`,
	} {
		want, calls := inline(t, e, body(q, nil))
		for _, f := range formats {
			t.Run(f.name+" "+q, func(t *testing.T) {
				e.upstream.Reset()
				_, got, errs := streamed(t, e, body(q, nil), f.accept)
				assert.Empty(t, errs)
				assert.JSONEq(t, want, got)
				assert.Equal(t, calls, e.upstream.Calls())
			})
		}
	}
}

// TestStreamOverJSONIsInline: a client that accepts only JSON gets the whole
// list in one body; if: false, and a list no longer than initialCount, are
// not streamed either.
func TestStreamOverJSONIsInline(t *testing.T) {
	e := newEnv(t)
	q := `{ users(ids: ["1", "2"]) @stream { id } }`
	want := `{"users": [{"id": "1"}, {"id": "2"}]}`
	got, _ := inline(t, e, body(q, nil))
	assert.JSONEq(t, want, got)
	for _, q := range []string{
		`{ users(ids: ["1", "2"]) @stream(if: false) { id } }`,
		`{ users(ids: ["1", "2"]) @stream(initialCount: 2) { id } }`,
		`{ users(ids: ["1", "2"]) @stream(initialCount: 5) { id } }`,
	} {
		for _, f := range formats {
			parts, got, errs := streamed(t, e, body(q, nil), f.accept)
			assert.Empty(t, errs)
			assert.JSONEq(t, want, got)
			assert.Len(t, parts, 1, "%s: the list is whole in its payload", q)
			assert.Empty(t, parts[0].Pending)
		}
	}
}

// TestStreamRefusals: @stream where the spec's rules forbid it, and a
// negative initialCount, literal or from a variable, are refused before
// any upstream call.
func TestStreamRefusals(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, query string
		vars        map[string]any
		code, msg   string
	}{
		{"on a non-list field", `{ user(id: "1") { meetings(first: 1) @stream { totalCount } } }`, nil, gqlhttp.CodeValidationFailed, `Directive "@stream" cannot be used on non-list field "User.meetings".`},
		{"on a scalar", `{ user(id: "1") { id @stream } }`, nil, gqlhttp.CodeValidationFailed, `Directive "@stream" cannot be used on non-list field "User.id".`},
		{"negative literal", `{ users(ids: ["1"]) @stream(initialCount: -1) { id } }`, nil, gqlhttp.CodeValidationFailed, "initialCount must be 0 or more"},
		{"negative variable", `query ($n: Int!) { users(ids: ["1"]) @stream(initialCount: $n) { id } }`, map[string]any{"n": -3}, gqlhttp.CodeBadUserInput, "initialCount of @stream must be 0 or more"},
		{"label from a variable", `query ($l: String) { users(ids: ["1"]) @stream(label: $l) { id } }`, map[string]any{"l": "x"}, gqlhttp.CodeValidationFailed, `Directive "stream"'s label argument must be a static string.`},
		{"label used twice", `{ users(ids: ["1"]) { id ... @defer(label: "a") { threads(first: 1) { totalCount } } } again: users(ids: ["2"]) @stream(label: "a") { id } }`, nil, gqlhttp.CodeValidationFailed, "Defer/Stream directive label argument must be unique."},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, accept := range []string{apolloV02Accept, "application/json"} {
				e.upstream.Reset()
				res := e.send(postReq(body(c.query, c.vars), "Accept", accept))
				require.NotEmpty(t, res.errors, "%s", res.body)
				assert.Equal(t, c.code, res.errors[0].code())
				assert.Equal(t, c.msg, res.errors[0].Message)
				assert.Zero(t, e.upstream.Calls(), "refused before any upstream call")
			}
		})
	}
}

// TestStreamedElementsKeepTheCaps: an element's upstream failure is its
// item's error, at its path, with the request id; MaxErrors holds across
// the items; the operation is logged once; the size limit ends the stream
// at the item that crosses it.
func TestStreamedElementsKeepTheCaps(t *testing.T) {
	for _, f := range formats {
		t.Run("errors "+f.name, func(t *testing.T) {
			o := newObserved(t, withGraph(func(g *graph.Options) { g.MaxErrors = 3 }))
			o.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/*/threads", Kind: fakeapi.FaultStatus, Status: 404})
			ids := []string{"1", "2", "3", "4", "5"}
			b, err := json.Marshal(map[string]any{"query": `query Streamed($ids: [ID!]!) { users(ids: $ids) @stream(initialCount: 1) { id threads(first: 1) { totalCount } } }`, "variables": map[string]any{"ids": ids}})
			require.NoError(t, err)
			rec := o.post(string(b), map[string]string{"Authorization": fakeapi.DefaultToken, "Accept": f.accept})
			id := rec.Header().Get("X-Request-Id")
			parts := readParts(t, rec.Header().Get("Content-Type"), rec.Body.Bytes())
			_, errs := merge(t, parts)
			require.Len(t, errs, 3, "MaxErrors holds across the parts")
			for _, e := range errs {
				assert.Equal(t, id, e.Extensions["requestId"])
			}
			assert.Equal(t, graph.CodeUpstreamError, errs[0].code())
			assert.Equal(t, []any{"users", 0.0, "threads"}, errs[0].Path)
			assert.Equal(t, []any{"users", 1.0, "threads"}, errs[1].Path, "an item's error is at its element's path")
			assert.Equal(t, gqlhttp.CodeTooManyErrors, errs[2].code())
			var lines int
			for _, l := range o.logs.lines(t) {
				if l["msg"] == "graphql operation" && l["requestId"] == id {
					lines++
					assert.EqualValues(t, len(ids)+1, l["errors"])
				}
			}
			assert.Equal(t, 1, lines, "one operation, one line, however many parts")
		})
	}
	t.Run("size", func(t *testing.T) {
		const limit = 1200
		o := newObserved(t, withGraph(func(g *graph.Options) { g.MaxResponseBytes = limit }))
		rec := o.post(body(`{ user(id: "1") { meetings(first: 100) { nodes @stream(initialCount: 1) { id address startDate endDate hash } } } }`, nil),
			map[string]string{"Authorization": fakeapi.DefaultToken, "Accept": apolloV02Accept})
		assert.LessOrEqual(t, rec.Body.Len(), limit+512, "the stream stops at the limit; only the refusal's part may pass it")
		parts := readParts(t, rec.Header().Get("Content-Type"), rec.Body.Bytes())
		// The elements are resolved, and charged to the response, as their
		// calls end, ahead of their parts: the refusal ends the stream at the
		// next part, which may be the initial one.
		var refusal []gqlError
		if last := parts[len(parts)-1]; len(parts) > 1 {
			require.Len(t, last.Completed, 1, "%s", gqlhttptest.String(parts))
			refusal = last.Completed[0].Errors
		} else {
			refusal = parts[0].Errors
		}
		require.Len(t, refusal, 1, "%s", gqlhttptest.String(parts))
		assert.Equal(t, gqlhttp.CodeResponseTooLarge, refusal[0].code())
		assert.Equal(t, rec.Header().Get("X-Request-Id"), refusal[0].Extensions["requestId"])
	})
}

// TestStreamMeasurement is the note's measurement, logged with -v: a fake upstream answering in 200 ms and user 2's
// calls held a further 1 s; when the first and the last users element
// arrive with @stream, against the whole answer without it (and the fourth
// and the fifth, the one held, since elements keep their order). It asserts
// only the order of what arrived, never a time.
func TestStreamMeasurement(t *testing.T) {
	e := newEnv(t, withFake(fakeapi.WithUsers(100), fakeapi.WithLatency(200*time.Millisecond, 0)), withGraph(func(g *graph.Options) { g.Logger = slog.New(slog.DiscardHandler) }))
	// Each run asks for its own 50 users, so that the second is not
	// answered by the first one's cached calls: 1-50, then 51-100, with
	// the fifth user of each held.
	const n = 50
	e.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/5/*", Kind: fakeapi.FaultDelay, Delay: time.Second})
	e.upstream.Inject(fakeapi.Fault{Path: fmt.Sprintf("/api/v1/users/%d/*", n+5), Kind: fakeapi.FaultDelay, Delay: time.Second})
	srv := httptest.NewServer(e.handler)
	defer srv.Close()
	var ids []string
	post := func(query, accept string) (*http.Response, time.Time) {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"ids": ids}})
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, strings.NewReader(string(b)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		req.Header.Set("Authorization", fakeapi.DefaultToken)
		start := time.Now()
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		return resp, start
	}
	const sel = `{ id meetings(first: 5) { totalCount nodes { id } } threads(first: 1) { totalCount } }`

	ids = userIDs(n)
	resp, start := post(`query ($ids: [ID!]!) { users(ids: $ids) `+sel+` }`, "application/json")
	var whole struct {
		Data struct{ Users []any } `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&whole))
	resp.Body.Close()
	wholeAt := time.Since(start)
	require.Len(t, whole.Data.Users, len(ids))

	calls := e.upstream.Calls()
	ids = userIDs(2 * n)[n:]
	resp, start = post(`query ($ids: [ID!]!) { users(ids: $ids) @stream `+sel+` }`, apolloV02Accept)
	defer resp.Body.Close()
	parts := gqlhttptest.NewPartReader(t, resp.Header.Get("Content-Type"), resp.Body)
	var arrivals []time.Duration
	var order []string
	for {
		b, ok := parts.Next(t)
		if !ok {
			break
		}
		var pl incrementalPayload
		require.NoError(t, json.Unmarshal(b, &pl))
		for _, it := range pl.Incremental {
			var items []struct{ ID string }
			require.NoError(t, json.Unmarshal(it.Items, &items))
			for _, u := range items {
				arrivals = append(arrivals, time.Since(start))
				order = append(order, u.ID)
			}
		}
	}
	assert.Equal(t, ids, order, "every user, in order")
	assert.Equal(t, calls, e.upstream.Calls()-calls, "as many upstream calls with @stream as without")
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("measured on a busy machine: %d users, upstream 200 ms, the fifth user's calls 1 s more, %d upstream calls each: "+
		"without @stream the whole answer at %v; with @stream the first user at %v, the fourth at %v, the fifth (held) at %v, the last at %v",
		n, calls, ms(wholeAt), ms(arrivals[0]), ms(arrivals[3]), ms(arrivals[4]), ms(arrivals[len(arrivals)-1]))
}

// openParts posts q to srv as a client that accepts accept (an incremental
// format), with the fake's credential, and reads the answer's parts; done
// closes the answer, which lets srv close while a held call remains.
func openParts(t *testing.T, srv *httptest.Server, q, accept string) (parts *gqlhttptest.PartReader, done func()) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(q))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", fakeapi.DefaultToken)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	return gqlhttptest.NewPartReader(t, resp.Header.Get("Content-Type"), resp.Body), func() { resp.Body.Close() }
}
