package graph_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// BenchmarkHTTPLayer is what ETags and Server-Timing add to a request of
// the fixed-cost operation ({ user(id: 7) { id } }, no upstream call): off
// (gqlhttp's defaults), Server-Timing on, and a GET with ETags on, answered
// 200 or 304.
func BenchmarkHTTPLayer(b *testing.B) {
	fake := fakeapi.NewServer()
	defer fake.Close()
	client, err := restclient.New(fake.URL)
	if err != nil {
		b.Fatal(err)
	}
	handler := func(etags, timing bool) http.Handler {
		o := graph.Options{Upstream: client, Logger: slog.New(slog.DiscardHandler)}
		o.ETags, o.ServerTiming = etags, timing
		return graph.NewHandler(o)
	}
	const q = `{ user(id: 7) { id } }`
	post := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader([]byte(`{"query":"{ user(id: 7) { id } }"}`)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", fakeapi.DefaultToken)
		return r
	}
	get := func(inm string) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(q), nil)
			r.Header.Set("GraphQL-Require-Preflight", "1")
			r.Header.Set("Authorization", fakeapi.DefaultToken)
			if inm != "" {
				r.Header.Set("If-None-Match", inm)
			}
			return r
		}
	}
	etagged := handler(true, false)
	rec := httptest.NewRecorder()
	etagged.ServeHTTP(rec, get("")())
	tag := rec.Header().Get("ETag")
	for _, c := range []struct {
		name   string
		h      http.Handler
		req    func() *http.Request
		status int
	}{
		{"POST/off", handler(false, false), post, http.StatusOK},
		{"POST/server-timing", handler(false, true), post, http.StatusOK},
		{"GET/off", handler(false, false), get(""), http.StatusOK},
		{"GET/etags", etagged, get(""), http.StatusOK},
		{"GET/etags-304", etagged, get(tag), http.StatusNotModified},
		{"GET/etags+server-timing", handler(true, true), get(""), http.StatusOK},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, c.req())
				if rec.Code != c.status {
					b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
				}
			}
		})
	}
	if fake.Calls() != 0 {
		b.Fatalf("%d upstream calls", fake.Calls())
	}
}
