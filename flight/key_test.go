package flight_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/salesgraph/salesgraph/flight"
	"github.com/salesgraph/salesgraph/observe"
)

// TestKey: two requests have one key exactly when they are the same but
// for their per-request headers.
func TestKey(t *testing.T) {
	type req struct {
		method, target, body string
		h                    http.Header
	}
	base := req{"POST", "/graphql?a=1", `{"query":"{ a }"}`, http.Header{"Authorization": {"Bearer a"}, "Accept": {"application/json"}}}
	with := func(f func(r *req)) req {
		r := base
		r.h = base.h.Clone()
		f(&r)
		return r
	}
	for _, tc := range []struct {
		name string
		r    req
		same bool
	}{
		{"identical", with(func(*req) {}), true},
		{"per-request headers added", with(func(r *req) {
			r.h.Set("X-Request-Id", "b")
			r.h.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
			r.h.Set("Tracestate", "x=1")
			r.h.Set("Baggage", "k=v")
		}), true},
		{"a name not canonical", with(func(r *req) {
			r.h["authorization"] = r.h["Authorization"]
			delete(r.h, "Authorization")
		}), true},
		{"another method", with(func(r *req) { r.method = "GET" }), false},
		{"another target", with(func(r *req) { r.target = "/graphql?a=2" }), false},
		{"another body", with(func(r *req) { r.body = `{"query":"{ b }"}` }), false},
		{"another credential", with(func(r *req) { r.h.Set("Authorization", "Bearer b") }), false},
		{"no credential", with(func(r *req) { r.h.Del("Authorization") }), false},
		{"a header added", with(func(r *req) { r.h.Set("X-Tenant", "a") }), false},
		{"a value added", with(func(r *req) { r.h.Add("Accept", "text/plain") }), false},
		{"values in another order", with(func(r *req) { r.h["Accept"] = []string{"text/plain", "application/json"} }), false},
		// Length prefixes: no shifting of bytes between parts makes two
		// requests alike.
		{"bytes moved from target to body", with(func(r *req) { r.target, r.body = "/graphql?a=", `1{"query":"{ a }"}` }), false},
		{"bytes moved between name and value", with(func(r *req) { r.h = http.Header{"Authorizatio": {"nBearer a"}, "Accept": {"application/json"}} }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g flight.Group[int]
			a := g.Key(base.method, base.target, []byte(base.body), base.h)
			b := g.Key(tc.r.method, tc.r.target, []byte(tc.r.body), tc.r.h)
			assert.Equal(t, tc.same, a == b)
		})
	}
}

// TestKeysAreSaltedPerGroup: the same request has another key in another
// group, so a key cannot be checked against one computed elsewhere.
func TestKeysAreSaltedPerGroup(t *testing.T) {
	var a, b flight.Group[int]
	h := http.Header{"Authorization": {"Bearer a"}}
	assert.Equal(t, a.Key("GET", "/", nil, h), a.Key("GET", "/", nil, h))
	assert.NotEqual(t, a.Key("GET", "/", nil, h), b.Key("GET", "/", nil, h))
}

// TestPerRequestHeaders: the list and the test agree, and hold the request
// id header observe sets.
func TestPerRequestHeaders(t *testing.T) {
	for _, h := range flight.PerRequestHeaders() {
		assert.True(t, flight.PerRequest(h), h)
		assert.Equal(t, http.CanonicalHeaderKey(h), h, "canonical")
	}
	assert.True(t, flight.PerRequest(observe.RequestIDHeader))
	assert.False(t, flight.PerRequest("Authorization"))
	assert.False(t, flight.PerRequest("traceparent"), "canonical names only")
	assert.Len(t, flight.PerRequestHeaders(), 4)
}

// TestAppendHeader: the encoding leaves the per-request headers out and
// is the same however the map was filled.
func TestAppendHeader(t *testing.T) {
	a := http.Header{"Authorization": {"Bearer a"}, "X-Tenant": {"1", "2"}, "X-Request-Id": {"r1"}}
	b := http.Header{"x-tenant": {"1", "2"}, "authorization": {"Bearer a"}, "Baggage": {"k=v"}}
	assert.Equal(t, flight.AppendHeader(nil, a), flight.AppendHeader(nil, b))
	assert.Equal(t, flight.AppendHeader(nil, http.Header{}), flight.AppendHeader(nil, http.Header{"Traceparent": {"x"}}))
	assert.Equal(t, []byte{0}, flight.AppendHeader(nil, nil), "no header: a count of zero")
	assert.NotEqual(t, flight.AppendHeader(nil, a), flight.AppendHeader(nil, http.Header{"Authorization": {"Bearer a"}}))
}
