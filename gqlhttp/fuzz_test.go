package gqlhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
)

// FuzzRequest throws request bodies and documents at the handler. The
// invariants: the process survives; every answer but a 204 is JSON; every
// error carries extensions.code; nothing is a 5xx (every resolver failure is
// a field error, so a 5xx is a bug); and a request error has no data member.
//
// mode picks how data is sent: 0 as the raw POST body, 1 as the document of
// a JSON request, 2 as the document of a GET, 3 as the variables of a query
// that takes every kind of argument, 4 as the raw body of a QUERY request.
// ETags and Server-Timing are on, so that their paths are fuzzed too.
func FuzzRequest(f *testing.F) {
	srv, err := gqlhttp.New(testschema.New(&testschema.Resolver{}), gqlhttp.Options{Introspection: true, Batching: true, MaxBatchSize: 3, ETags: true, ServerTiming: true})
	if err != nil {
		f.Fatal(err)
	}
	srv.Logger = slog.New(slog.DiscardHandler)
	// A resolver's panic is a 200 with an error, as an application's
	// recover function makes it; gqlgen's default prints the stack.
	srv.SetRecoverFunc(func(context.Context, any) error { return errors.New("internal error") })
	var h http.Handler = srv

	for _, c := range hostileCorpus() {
		if len(c.body) <= 8<<10 && c.method == "" && c.contentType == "" {
			f.Add([]byte(c.body), uint8(0))
		}
	}
	for _, q := range []string{
		`{ item(id: "1") { id name children(first: 2) { id color parent { name } } } }`,
		`query($ids: [ID!]!) { items(ids: $ids) { children(first: 1) { id tags } } }`,
		`{ node(id: "1") { id ... on Item { name } } }`,
		`{ item(id: "1") { id ... @defer { children { id } } } }`,
		`{ raw big(bytes: 10) echo(text: "x", times: 3) fail boom }`,
		`{ __schema { types { name } } }`,
		`{ item(id: "1") { ...F } } fragment F on Item { ...F }`,
		`query A { __typename } query B { __typename }`,
		`{ a: __typename b: __typename }`,
		`{ __typename @include(if: true) @skip(if: false) }`,
		`{ items(ids: ["1", "2"], filter: {colors: [RED, BLUE]}) { id color } }`,
		`{`, `}`, `{ item(id: """x""") { id } }`, "{ item(id: \"\\u0000\") { id } }",
	} {
		f.Add([]byte(q), uint8(1))
		f.Add([]byte(q), uint8(2))
	}
	for _, v := range []string{`{"ids":["1","2"]}`, `{"ids":"1"}`, `{"first":-1}`, `{"filter":{"colors":["X"]}}`, `{"first":2147483648}`, `[]`, `{"ids":[[["1"]]]}`} {
		f.Add([]byte(v), uint8(3))
	}
	f.Add([]byte(`[{"query":"{ __typename }"},{"query":"{"}]`), uint8(0))
	for _, b := range []string{`{"documentId":"sha256:` + strings.Repeat("ab", 32) + `"}`, `{"documentId":"x-custom:1","query":"{ a }"}`, `{"query":"{ item(id: \"1\") { id } }"}`, `{"query":"mutation { touch }"}`} {
		f.Add([]byte(b), uint8(0))
		f.Add([]byte(b), uint8(4))
	}

	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		var req *http.Request
		switch mode % 5 {
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
			const q = `query($ids: [ID!]!, $first: Int, $filter: Filter) { items(ids: $ids, filter: $filter) { children(first: $first) { id } } }`
			b := `{"query":` + jsonString(q) + `,"variables":` + string(data) + `}`
			req = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
		case 4:
			req = httptest.NewRequest(gqlhttp.MethodQuery, "/graphql", strings.NewReader(string(data)))
			req.Header.Set("Content-Type", "application/json")
		}
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
