package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// BenchmarkNestedQuery measures the flagship operation end to end through
// the HTTP handler against fakeapi on loopback: 20 users, their meetings,
// each meeting's thread. It checks the answer in the loop and reports the
// upstream calls each operation made.
func BenchmarkNestedQuery(b *testing.B) {
	fake := fakeapi.NewServer()
	defer fake.Close()
	e := &env{upstream: fake, data: fake.Dataset()}
	e.handler = newBenchHandler(b, fake)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = itoa(int64(i + 1))
	}
	body, _ := json.Marshal(map[string]any{
		"query":     `query($ids: [ID!]!) { users(ids: $ids) { id meetings(first: 100) { nodes { id status startDate thread { id name } } } } }`,
		"variables": map[string]any{"ids": ids},
	})
	fake.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", fakeapi.DefaultToken)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
			b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
		}
	}
	b.ReportMetric(float64(fake.Calls())/float64(b.N), "upstream-calls/op")
}
