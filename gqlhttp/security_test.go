package gqlhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/flight"
	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/gqlhttp/internal/testschema"
	"github.com/salesgraph/salesgraph/observe"
)

func TestCSRFPrevention(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.CSRFHeaders = []string{"X-Our-App"} })
	q := "query=" + url.QueryEscape(`{ item(id: "1") { id } }`)
	simpleGET := func(headers ...string) *http.Request {
		return withHeaders(httptest.NewRequest(http.MethodGet, "/graphql?"+q, nil), headers)
	}
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"simple GET", simpleGET(), 400, gqlhttp.CodeCSRFPrevented},
		{"GET with a header that is not configured", simpleGET("Apollo-Require-Preflight", "true"), 400, gqlhttp.CodeCSRFPrevented},
		{"GET with an empty preflight header", simpleGET("X-Our-App", " "), 400, gqlhttp.CodeCSRFPrevented},
		{"GET with the preflight header", simpleGET("X-Our-App", "1"), 200, ""},
		{"GET with a JSON Content-Type", simpleGET("Content-Type", "application/json"), 200, ""},
		{"GET with a form Content-Type", simpleGET("Content-Type", "application/x-www-form-urlencoded", "X-Our-App", "1"), 415, gqlhttp.CodeUnsupportedMediaType},
		{"GET with text/plain", simpleGET("Content-Type", "text/plain"), 415, gqlhttp.CodeUnsupportedMediaType},
		{"POST text/plain with a preflight header", postReq(body(`{ __typename }`, nil), "Content-Type", "text/plain", "X-Our-App", "1"), 415, gqlhttp.CodeUnsupportedMediaType},
		{"POST JSON", postReq(body(`{ item(id: "1") { id } }`, nil)), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.calls()
			res := e.send(c.req)
			assert.Equal(t, c.status, res.status, "%s", res.body)
			assert.Equal(t, c.code, res.code())
			if c.code != "" {
				assert.Equal(t, before, e.calls())
			} else {
				assert.Equal(t, before+1, e.calls())
			}
		})
	}
	res := e.send(simpleGET())
	assert.Contains(t, res.errors[0].Message, "X-Our-App", "the refusal names the headers that pass")
}

func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	e := newEnv(t, func(o *gqlhttp.Options) {
		o.AllowedOrigins = []string{app}
		o.ForwardHeaders = []string{"authorization"}
	})
	preflight := func(origin, headers string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", headers)
		return r
	}
	res := e.send(preflight(app, "authorization,content-type"))
	assert.Equal(t, http.StatusNoContent, res.status)
	assert.Equal(t, app, res.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "POST", res.header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "authorization,content-type", res.header.Get("Access-Control-Allow-Headers"))
	assert.Empty(t, res.header.Get(gqlhttp.RequestIDHeader), "a preflight is not a request the endpoint serves")

	res = e.send(preflight(app, "baggage,content-type,traceparent,tracestate,x-request-id"))
	assert.Equal(t, "baggage,content-type,traceparent,tracestate,x-request-id", res.header.Get("Access-Control-Allow-Headers"), "the tracing headers")

	res = e.send(preflight(app, "x-other"))
	assert.Empty(t, res.header.Get("Access-Control-Allow-Headers"), "only the forwarded, CSRF, content and tracing headers")

	res = e.send(preflight("https://evil.example.net", "content-type"))
	assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"), "another origin gets no permission")

	res = e.send(postReq(body(`{ __typename }`, nil), "Origin", app))
	assert.Equal(t, app, res.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, gqlhttp.RequestIDHeader, res.header.Get("Access-Control-Expose-Headers"))
	assert.Contains(t, res.header.Values("Vary"), "Origin")

	res = e.send(postReq(body(`{ __typename }`, nil), "Origin", "https://evil.example.net"))
	assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"))

	t.Run("no origins, no CORS", func(t *testing.T) {
		e := newEnv(t)
		res := e.send(preflight(app, "content-type"))
		assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"))
		res = e.send(postReq(body(`{ __typename }`, nil), "Origin", app))
		assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"))
	})
}

func TestResponsesArePrivate(t *testing.T) {
	e := newEnv(t, func(o *gqlhttp.Options) { o.ForwardHeaders = []string{"authorization", "x-tenant"} })
	for _, req := range []*http.Request{
		postReq(body(`{ item(id: "1") { id } }`, nil)),
		postReq(`{`),
		postReq(body(`{ item(id: "1") { fail } }`, nil), "Authorization", "Bearer x"),
		getReq("query=" + url.QueryEscape(`{ item(id: "1") { id } }`)),
		httptest.NewRequest(http.MethodPut, "/graphql", nil),
	} {
		res := e.send(req)
		assert.Equal(t, "private, no-store", res.header.Get("Cache-Control"), "%s %s", req.Method, res.body)
		assert.Equal(t, []string{"Authorization, X-Tenant, Accept"}, res.header.Values("Vary"), "the forwarded headers, canonical, and Accept")
	}
	e = newEnv(t)
	res := e.post(`{ __typename }`, nil)
	assert.Equal(t, []string{"Accept"}, res.header.Values("Vary"), "no forwarded headers: the media type still depends on Accept")
	assert.Equal(t, "private, no-store", res.header.Get("Cache-Control"))
}

func TestForwardedHeadersAreExactlyTheAllowList(t *testing.T) {
	schema := testschema.New(&testschema.Resolver{}).Schema()
	t.Run("the list is checked at start", func(t *testing.T) {
		for _, h := range []string{"Connection", "Host", "Content-Length", "Transfer-Encoding", "TE", "Upgrade", "Keep-Alive",
			"Trailer", "Proxy-Authorization", "Proxy-Connection", "Proxy-Foo", "Content-Type", "Accept", "Expect", "Bad Header", "X-Ä", ""} {
			err := gqlhttp.Options{ForwardHeaders: []string{"Authorization", h}}.Validate(schema)
			require.Error(t, err, h)
			assert.Contains(t, err.Error(), "ForwardHeaders", h)
			if h != "" {
				assert.Contains(t, strings.ToLower(err.Error()), strings.ToLower(strings.Fields(h)[0]), h)
			}
			_, err = gqlhttp.New(testschema.New(&testschema.Resolver{}), gqlhttp.Options{ForwardHeaders: []string{h}})
			assert.Error(t, err, "New refuses it too: %q", h)
		}
		assert.NoError(t, gqlhttp.Options{ForwardHeaders: []string{"Authorization", "Cookie", "X-Tenant"}}.Validate(schema))
	})

	run := func(forward []string, headers ...string) http.Header {
		t.Helper()
		e := newEnv(t, func(o *gqlhttp.Options) { o.ForwardHeaders = forward })
		var got http.Header
		e.srv.Begin = func(ctx context.Context, _ *http.Request) (context.Context, func()) {
			got = gqlhttp.ForwardedFrom(ctx)
			got.Set("X-Changed", "1") // the caller's to change
			return ctx, func() {}
		}
		res := e.send(postReq(body(`{ __typename }`, nil), headers...))
		require.Empty(t, res.errors, "%s", res.body)
		return got
	}
	sent := []string{"Authorization", "Bearer a", "Cookie", "session=s", "X-Tenant", "t1", "X-Other", "o",
		"Proxy-Authorization", "Basic p", "Forwarded", "for=1.2.3.4"}

	got := run([]string{"authorization"}, sent...)
	assert.Equal(t, []string{"Bearer a"}, got.Values("Authorization"))
	for _, h := range []string{"Cookie", "X-Tenant", "X-Other", "Proxy-Authorization", "Forwarded"} {
		assert.Empty(t, got.Values(h), "%s is not on the list", h)
	}

	got = run([]string{"Authorization", "X-Tenant"}, sent...)
	assert.Equal(t, []string{"t1"}, got.Values("X-Tenant"))
	assert.Empty(t, got.Values("Cookie"), "Cookie only when listed")

	got = run([]string{"Authorization", "Cookie"}, sent...)
	assert.Equal(t, []string{"session=s"}, got.Values("Cookie"))

	// A header the caller marks hop-by-hop is not forwarded, even when listed.
	got = run([]string{"Authorization", "X-Tenant"}, append(sent, "Connection", "X-Tenant")...)
	assert.Empty(t, got.Values("X-Tenant"))
	assert.Equal(t, []string{"Bearer a"}, got.Values("Authorization"))

	assert.Empty(t, gqlhttp.ForwardedFrom(context.Background()), "outside a request: none")
}

func TestOptionsAreValidatedInFieldNames(t *testing.T) {
	schema := testschema.New(&testschema.Resolver{}).Schema()
	cases := []struct {
		name string
		o    gqlhttp.Options
		want string
	}{
		{"negative depth", gqlhttp.Options{MaxDepth: -1}, "MaxDepth must be positive, got -1"},
		{"negative body size", gqlhttp.Options{MaxRequestBytes: -5}, "MaxRequestBytes must be positive, got -5"},
		{"one error", gqlhttp.Options{MaxErrors: 1}, "MaxErrors must be at least 2"},
		{"tiny response cap", gqlhttp.Options{MaxResponseBytes: 100}, "MaxResponseBytes must be at least 1024"},
		{"memory below a response", gqlhttp.Options{MaxResponseBytes: 4096, MaxResponseMemory: 2048}, "MaxResponseMemory must be at least MaxResponseBytes (4096), got 2048"},
		{"origin with a path", gqlhttp.Options{AllowedOrigins: []string{"https://app.example.com/x"}}, `AllowedOrigins: "https://app.example.com/x" is not an origin`},
		{"star among origins", gqlhttp.Options{AllowedOrigins: []string{"*", "https://app.example.com"}}, `AllowedOrigins: "*" allows every origin`},
		{"safelisted CSRF header", gqlhttp.Options{CSRFHeaders: []string{"content-type"}}, "CSRFHeaders: Content-Type is CORS-safelisted"},
		{"invalid CSRF header", gqlhttp.Options{CSRFHeaders: []string{"X Y"}}, `CSRFHeaders: "X Y" is not a valid header name`},
		{"hop-by-hop forwarded", gqlhttp.Options{ForwardHeaders: []string{"Authorization", "connection"}}, "ForwardHeaders: Connection cannot be forwarded (hop-by-hop)"},
		{"invalid allowed operation", gqlhttp.Options{AllowedOperations: map[string]string{"h": "query Broken { nope }"}}, "AllowedOperations: operation Broken (sha256 h…)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.o.Validate(schema)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			var ce *gqlhttp.ConfigError
			require.True(t, errors.As(err, &ce))
			require.NotEmpty(t, ce.Problems)
			_, err = gqlhttp.New(testschema.New(&testschema.Resolver{}), c.o)
			assert.ErrorAs(t, err, &ce, "New refuses what Validate reports")
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		err := gqlhttp.Options{MaxDepth: -1, MaxTokens: -1, AllowedOrigins: []string{"x"}}.Validate(schema)
		var ce *gqlhttp.ConfigError
		require.ErrorAs(t, err, &ce)
		var fields []string
		for _, p := range ce.Problems {
			fields = append(fields, p.Field)
		}
		assert.ElementsMatch(t, []string{"MaxDepth", "MaxTokens", "AllowedOrigins"}, fields)
		assert.Equal(t, "MaxTokens must be positive, got -1; MaxDepth must be positive, got -1; "+ce.Problems[2].String(), err.Error(),
			"joined with semicolons")
	})
	assert.NoError(t, gqlhttp.Options{}.Validate(schema), "the zero value is the defaults")
}

func TestRequestIDsAndBegin(t *testing.T) {
	e := newEnv(t)
	var seen []string
	ended := 0
	e.srv.Begin = func(ctx context.Context, _ *http.Request) (context.Context, func()) {
		id, ok := gqlhttp.RequestIDFrom(ctx)
		require.True(t, ok)
		seen = append(seen, id)
		return ctx, func() { ended++ }
	}
	res := e.post(`{ __typename }`, nil)
	assert.Equal(t, "req-1", res.header.Get(gqlhttp.RequestIDHeader))
	res = e.send(httptest.NewRequest(http.MethodPut, "/graphql", nil))
	assert.Equal(t, "req-2", res.header.Get(gqlhttp.RequestIDHeader), "a refused request has an id too")
	assert.Equal(t, []string{"req-1", "req-2"}, seen, "Begin sees the id")
	assert.Equal(t, 2, ended, "and its end is called for each")

	e.srv.RequestID, e.srv.Begin = nil, nil
	res = e.post(`{ __typename }`, nil)
	assert.Empty(t, res.header.Values(gqlhttp.RequestIDHeader), "no RequestID hook, no id")
	_, ok := gqlhttp.RequestIDFrom(context.Background())
	assert.False(t, ok)
}

// TestTracingHeadersAreThePerRequestOnes: the headers a page may send
// cross-origin to trace its calls are the per-request headers that
// sharing and caching leave out of their keys (flight.PerRequest), and the
// request id is the one observe reads: one list, which gqlhttp, importing
// nothing of salesgraph, holds a copy of that this test keeps in step.
func TestTracingHeadersAreThePerRequestOnes(t *testing.T) {
	assert.ElementsMatch(t, flight.PerRequestHeaders(), gqlhttp.TracingHeaders)
	assert.Equal(t, observe.RequestIDHeader, gqlhttp.RequestIDHeader)
}
