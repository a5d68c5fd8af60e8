package graph_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/resttest"
)

// FuzzRequest throws request bodies and documents at the handler. The
// invariants: the process survives; every answer but a 204 is JSON; every
// error carries extensions.code; nothing is a 5xx (the upstream is healthy,
// so a 5xx is a bug); and a request error has no data member.
//
// mode picks how data is sent: 0 as the raw POST body, 1 as the document of
// a JSON request, 2 as the document of a GET, 3 as the variables of a query
// that takes every kind of argument.
func FuzzRequest(f *testing.F) {
	fake := resttest.NewServer(resttest.WithUsers(5), resttest.WithMeetingsPerUser(3), resttest.WithThreadsPerUser(3))
	f.Cleanup(fake.Close)
	client, err := restclient.New(fake.URL)
	if err != nil {
		f.Fatal(err)
	}
	h := graph.NewHandler(graph.Options{
		Upstream: client, Security: graph.Security{Options: gqlhttp.Options{Introspection: true, Batching: true, MaxBatchSize: 3}},
		Logger: slog.New(slog.DiscardHandler),
	})

	for _, c := range hostileCorpus() {
		if len(c.body) <= 8<<10 && c.method == "" && c.contentType == "" {
			f.Add([]byte(c.body), uint8(0))
		}
	}
	for _, q := range []string{
		`{ user(id: "1") { id meetings(first: 2) { totalCount nodes { id status thread { name } } } } }`,
		`query($ids: [ID!]!) { users(ids: $ids) { threads(first: 1) { edges { cursor node { id } } } } }`,
		`{ node(id: "VXNlcjox") { globalId ... on User { id } } }`,
		`{ __schema { types { name } } }`,
		`{ user(id: "1") { ...F } } fragment F on User { ...F }`,
		`query A { __typename } query B { __typename }`,
		`{ a: __typename b: __typename }`,
		`{ __typename @include(if: true) @skip(if: false) }`,
		`{ user(id: "1") { meetings(filter: {status: [FINISHED], startFrom: "2026-01-01T00:00:00Z"}, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount } } }`,
		`{`, `}`, `{ user(id: """x""") { id } }`, "{ user(id: \"\\u0000\") { id } }",
	} {
		f.Add([]byte(q), uint8(1))
		f.Add([]byte(q), uint8(2))
	}
	for _, v := range []string{`{"ids":["1","2"]}`, `{"ids":"1"}`, `{"first":-1}`, `{"filter":{"status":["X"]}}`, `{"after":"bWVldGluZzox"}`, `[]`, `{"ids":[[["1"]]]}`} {
		f.Add([]byte(v), uint8(3))
	}
	f.Add([]byte(`[{"query":"{ __typename }"},{"query":"{"}]`), uint8(0))

	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		var req *http.Request
		switch mode % 4 {
		case 0:
			req = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(data)))
			req.Header.Set("Content-Type", "application/json")
		case 1:
			b, _ := json.Marshal(map[string]any{"query": string(data)})
			req = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(b)))
			req.Header.Set("Content-Type", "application/json")
		case 2:
			req = httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(string(data)), nil)
			req.Header.Set("GraphQL-Require-Preflight", "1")
		case 3:
			const q = `query($ids: [ID!], $first: Int, $after: String, $filter: MeetingFilter) { users(ids: $ids) { meetings(first: $first, after: $after, filter: $filter) { totalCount } } }`
			b := `{"query":` + jsonString(q) + `,"variables":` + string(data) + `}`
			req = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", resttest.DefaultToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("the answer is not JSON (status %d): %q", rec.Code, rec.Body.Bytes())
		}
		var res []struct {
			Data   *json.RawMessage `json:"data"`
			Errors []gqlError       `json:"errors"`
		}
		raw := rec.Body.Bytes()
		if len(raw) > 0 && raw[0] != '[' {
			raw = append(append([]byte{'['}, raw...), ']')
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatalf("the answer is not a GraphQL response: %v: %s", err, rec.Body.Bytes())
		}
		for _, r := range res {
			if r.Data == nil && len(r.Errors) == 0 {
				t.Fatalf("neither data nor errors: %s", rec.Body.Bytes())
			}
			for _, e := range r.Errors {
				if e.code() == "" {
					t.Fatalf("an error without extensions.code: %s", rec.Body.Bytes())
				}
			}
		}
	})
}
