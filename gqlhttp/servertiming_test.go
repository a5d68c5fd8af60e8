package gqlhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// timingSyntax is a Server-Timing value as this endpoint writes it:
// token;dur=<ms>[;desc="…"], comma-separated.
var timingSyntax = regexp.MustCompile(`^[a-z]+;dur=[0-9.]+(;desc="[^"\\]*(\\.[^"\\]*)*")?(, [a-z]+;dur=[0-9.]+(;desc="[^"\\]*(\\.[^"\\]*)*")?)*$`)

// TestServerTiming: with ServerTiming, every answer (refusals, 304s and
// batches included) has the endpoint's total then the application's
// metrics, in the header's syntax; a streamed answer has it as a trailer.
func TestServerTiming(t *testing.T) {
	e := newEnv(t, withETags, func(o *gqlhttp.Options) {
		o.ServerTiming = true
		o.Batching = true
	})
	var sawTotal time.Duration
	e.srv.ServerTiming = func(ctx context.Context, total time.Duration, m []gqlhttp.TimingMetric) []gqlhttp.TimingMetric {
		sawTotal = total
		_, ok := gqlhttp.RequestIDFrom(ctx)
		require.True(t, ok, "the request's context")
		return append(m,
			gqlhttp.TimingMetric{Name: "upstream", Dur: 1500 * time.Microsecond, Desc: `calls=2 "quoted"`},
			gqlhttp.TimingMetric{Name: "not a token", Dur: time.Second},
		)
	}
	get := getReq("query=" + url.QueryEscape(`{ hello }`))
	for name, req := range map[string]*http.Request{
		"POST":    postReq(body(`{ hello }`, nil)),
		"GET":     get,
		"refusal": httptest.NewRequest(http.MethodPut, "/graphql", nil),
		"batch":   postReq(`[` + body(`{ hello }`, nil) + `]`),
	} {
		res := e.send(req)
		v := res.header.Get("Server-Timing")
		assert.Regexp(t, timingSyntax, v, name)
		assert.Regexp(t, `^total;dur=[0-9.]+, upstream;dur=1.5;desc="calls=2 \\"quoted\\""$`, v, name)
		assert.Positive(t, sawTotal, name)
	}
	first := e.send(getReq("query=" + url.QueryEscape(`{ hello }`)))
	res := e.send(getReq("query="+url.QueryEscape(`{ hello }`), "If-None-Match", first.header.Get("ETag")))
	require.Equal(t, http.StatusNotModified, res.status)
	assert.Regexp(t, `^total;dur=`, res.header.Get("Server-Timing"), "a 304 too")

	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, postReq(body(`{ item(id: "7") { id ... @defer { children(first: 1) { id } } } }`, nil), "Accept", apolloV02Accept))
	out := rec.Result()
	require.Equal(t, http.StatusOK, out.StatusCode)
	assert.Empty(t, out.Header.Get("Server-Timing"), "not known when a stream's headers leave")
	assert.Regexp(t, `^total;dur=[0-9.]+, upstream;dur=1.5;`, out.Trailer.Get("Server-Timing"), "a trailer, once the last part is written")
}

func TestServerTimingIsOffByDefault(t *testing.T) {
	e := newEnv(t)
	called := false
	e.srv.ServerTiming = func(_ context.Context, _ time.Duration, m []gqlhttp.TimingMetric) []gqlhttp.TimingMetric {
		called = true
		return m
	}
	res := e.post(`{ hello }`, nil)
	assert.Empty(t, res.header.Values("Server-Timing"))
	assert.False(t, called, "the hook is not called: no work for a feature that is off")
}
