package graph_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// TestEveryRefusalIsCountedAndLoggedUnderItsCode sends one request for each
// refusal the transport can make and checks, by exact deltas on /metrics,
// that it is counted as one failed operation and one error under its code,
// and that its log line and its error carry the request id.
func TestEveryRefusalIsCountedAndLoggedUnderItsCode(t *testing.T) {
	o := newObserved(t, withGraph(func(g *graph.Options) {
		g.MaxDepth, g.MaxAliases, g.MaxRootFields, g.MaxFields, g.MaxTokens = 4, 2, 2, 12, 60
		g.MaxComplexity, g.MaxUpstreamCalls, g.MaxRequestBytes = 300, 3, 400
		g.MaxResponseBytes, g.MaxErrors, g.MaxBatchSize = 1024, 2, 1
	}))
	post := func(b string, h ...string) *http.Request { return postReq(b, h...) }
	cases := []struct {
		name    string
		req     *http.Request
		code    string
		outcome string // "error" unless the response keeps data
	}{
		{"method", httptest.NewRequest(http.MethodPut, "/graphql", nil), gqlhttp.CodeMethodNotAllowed, "error"},
		{"accept", post(body(`{ __typename }`, nil), "Accept", "text/html"), gqlhttp.CodeNotAcceptable, "error"},
		{"media type", post(body(`{ __typename }`, nil), "Content-Type", "text/plain"), gqlhttp.CodeUnsupportedMediaType, "error"},
		{"CSRF", httptest.NewRequest(http.MethodGet, "/graphql?query=%7B__typename%7D", nil), gqlhttp.CodeCSRFPrevented, "error"},
		{"body size", post(body(`{ __typename }`+strings.Repeat(" ", 400), nil)), gqlhttp.CodeRequestTooLarge, "error"},
		{"JSON", post(`{"query":`), gqlhttp.CodeBadRequest, "error"},
		{"batch size", post(`[` + body(`{ __typename }`, nil) + `,` + body(`{ __typename }`, nil) + `]`), gqlhttp.CodeBatchingDisabled, "error"},
		{"parse", post(body(`{ user(`, nil)), gqlhttp.CodeParseFailed, "error"},
		{"validation", post(body(`{ nope }`, nil)), gqlhttp.CodeValidationFailed, "error"},
		{"tokens", post(body(`{ user(id: "1") {`+strings.Repeat(" id", 60)+` } }`, nil)), gqlhttp.CodeTokenLimit, "error"},
		{"depth", post(body(`{ user(id: "1") { meetings { nodes { user { id } } } } }`, nil)), gqlhttp.CodeDepthLimit, "error"},
		{"aliases", post(body(`{ user(id: "1") { a: id b: id c: id } }`, nil)), gqlhttp.CodeAliasLimit, "error"},
		{"root fields", post(body(`{ __typename a: __typename b: __typename }`, nil)), gqlhttp.CodeRootFieldLimit, "error"},
		{"fields", post(body(`{ user(id: "1") { ...F ...F } } fragment F on User { id globalId meetings { totalCount nodes { id hash } } }`, nil)), gqlhttp.CodeFieldLimit, "error"},
		{"complexity", post(body(`{ user(id: "1") { meetings(first: 100) { nodes { id hash status } } } }`, nil)), graph.CodeComplexityLimit, "error"},
		{"upstream budget", post(body(`{ user(id: "1") { meetings { totalCount } threads(first: 41) { totalCount } } }`, nil)), graph.CodeUpstreamBudget, "error"},
		{"argument", post(body(`{ user(id: "x") { id } }`, nil)), graph.CodeBadUserInput, "error"},
		{"hash mismatch", post(pqBody(sha("a"), `{ __typename }`)), gqlhttp.CodePersistedQueryHashMismatch, "error"},
		{"response size", post(body(`{ user(id: "1") { meetings(first: 12) { nodes { address hash } } } }`, nil)), gqlhttp.CodeResponseTooLarge, "error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.req.Header.Get("Authorization") == "" {
				c.req.Header.Set("Authorization", fakeapi.DefaultToken)
			}
			before := scrape(t, o.metrics)
			rec := httptest.NewRecorder()
			o.handler.ServeHTTP(rec, c.req)
			id := rec.Header().Get("X-Request-Id")
			require.NotEmpty(t, id)
			res := decodeResult(rec.Code, rec.Header(), rec.Body.Bytes())
			require.NotEmpty(t, res.errors, "%s", res.body)
			assert.Equal(t, c.code, res.code(), "%s", res.body)
			for _, e := range res.errors {
				assert.Equal(t, id, e.Extensions["requestId"], "in the error's extensions: %s", res.body)
			}

			after := scrape(t, o.metrics)
			delta := func(name string, labels map[string]string) float64 {
				return after.value(name, labels) - before.value(name, labels)
			}
			assert.Equal(t, 1.0, delta("salesgraph_graphql_operations_total", nil), "one operation")
			assert.Equal(t, 1.0, delta("salesgraph_graphql_operations_total", map[string]string{"outcome": c.outcome}))
			assert.Equal(t, 1.0, delta("salesgraph_graphql_errors_total", map[string]string{"code": c.code}), "counted under its code")
			assert.Equal(t, 1.0, delta("salesgraph_graphql_errors_total", nil), "and only that")

			var line map[string]any
			for _, l := range o.logs.lines(t) {
				if l["msg"] == "graphql operation" && l["requestId"] == id {
					require.Nil(t, line, "one line")
					line = l
				}
			}
			require.NotNil(t, line, "logged with its request id")
			assert.Equal(t, c.outcome, line["outcome"])
			assert.EqualValues(t, 1, line["errors"])
			assert.Equal(t, []any{c.code}, line["errorCodes"])
		})
	}

	t.Run("errors left out", func(t *testing.T) {
		o.upstream.Inject(fakeapi.Fault{Path: "/api/v1/users/*/meetings", Kind: fakeapi.FaultStatus, Status: 404})
		defer o.upstream.ClearFaults()
		before := scrape(t, o.metrics)
		rec := o.post(body(`{ users(ids: ["1", "2", "3"]) { meetings { totalCount } } }`, nil),
			map[string]string{"Authorization": fakeapi.DefaultToken})
		res := decodeResult(rec.Code, rec.Header(), rec.Body.Bytes())
		require.Len(t, res.errors, 2)
		assert.Equal(t, gqlhttp.CodeTooManyErrors, res.errors[1].code())
		assert.Equal(t, rec.Header().Get("X-Request-Id"), res.errors[1].Extensions["requestId"])
		after := scrape(t, o.metrics)
		code := map[string]string{"code": gqlhttp.CodeTooManyErrors}
		assert.Equal(t, 1.0, after.value("salesgraph_graphql_errors_total", code)-before.value("salesgraph_graphql_errors_total", code))
	})
}

// TestAPQIsCountedApart: a miss, APQ's normal first step, is counted as a
// miss, not as a failed operation or an error; the registration and a later
// hit are counted too, and the operations they run are counted as such.
func TestAPQIsCountedApart(t *testing.T) {
	o := newObserved(t)
	const q = `query Apq { user(id: "1") { id } }`
	steps := []struct {
		name, body, result string
		ops, errs          float64
		outcome            string
	}{
		{"miss", pqBody(sha(q), ""), observe.APQMiss, 0, 0, "apq_miss"},
		{"registered", pqBody(sha(q), q), observe.APQRegistered, 1, 0, "ok"},
		{"hit", pqBody(sha(q), ""), observe.APQHit, 1, 0, "ok"},
	}
	for _, s := range steps {
		before := scrape(t, o.metrics)
		rec := o.post(s.body, map[string]string{"Authorization": fakeapi.DefaultToken})
		id := rec.Header().Get("X-Request-Id")
		after := scrape(t, o.metrics)
		delta := func(name string, labels map[string]string) float64 {
			return after.value(name, labels) - before.value(name, labels)
		}
		assert.Equal(t, 1.0, delta("salesgraph_apq_total", map[string]string{"result": s.result}), s.name)
		assert.Equal(t, 1.0, delta("salesgraph_apq_total", nil), s.name)
		assert.Equal(t, s.ops, delta("salesgraph_graphql_operations_total", nil), s.name)
		assert.Equal(t, s.errs, delta("salesgraph_graphql_errors_total", nil), s.name)
		assert.Zero(t, delta("salesgraph_graphql_operations_total", map[string]string{"outcome": "error"}), s.name)
		var outcome any
		for _, l := range o.logs.lines(t) {
			if l["msg"] == "graphql operation" && l["requestId"] == id {
				outcome = l["outcome"]
			}
		}
		assert.Equal(t, s.outcome, outcome, s.name)
	}
	s := scrape(t, o.metrics)
	assert.Equal(t, 2.0, s.value("salesgraph_graphql_operations_total", map[string]string{"operation": "Apq", "outcome": "ok"}),
		"the registration and the hit ran the operation; the miss did not")
}
