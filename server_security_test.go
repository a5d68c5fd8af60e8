package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

func TestServedEndpointIsHardened(t *testing.T) {
	base, _ := startServer(t)
	post := func(body string, headers ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	code := func(res *http.Response) string {
		var out struct {
			Errors []struct {
				Extensions struct{ Code string }
			}
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		require.NotEmpty(t, out.Errors)
		return out.Errors[0].Extensions.Code
	}

	res := post(`{"query":"{ user(id: \"1\") { meetings { totalCount } } }"}`)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "application/graphql-response+json; charset=utf-8", res.Header.Get("Content-Type"))

	res = post(`{"query":"{ __typename }","pad":"` + strings.Repeat("x", 2<<20) + `"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.Equal(t, gqlhttp.CodeRequestTooLarge, code(res))

	res, err := http.Get(base + "/graphql?query=%7B__typename%7D")
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Equal(t, gqlhttp.CodeCSRFPrevented, code(res))

	// Headers past http.Server's MaxHeaderBytes never reach the handler.
	req, err := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Big", strings.Repeat("b", 128<<10))
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode)
}

// TestCrossOriginTracing: a page on an allowed origin may send the tracing
// headers (W3C Trace Context and Baggage) and a request id of its own, as
// browser tracing does, and may read the request id of the answer.
func TestCrossOriginTracing(t *testing.T) {
	const app = "https://app.example.com"
	base, _ := startServer(t, "-cors-origins", app)
	preflight := func(headers string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodOptions, base+"/graphql", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", app)
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		req.Header.Set("Access-Control-Request-Headers", headers)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		return res
	}
	// As browsers send them: lower case, sorted.
	for _, h := range []string{"traceparent", "tracestate", "baggage", "x-request-id", "baggage,content-type,traceparent,tracestate,x-request-id"} {
		res := preflight(h)
		assert.Equal(t, http.StatusNoContent, res.StatusCode, h)
		assert.Equal(t, app, res.Header.Get("Access-Control-Allow-Origin"), h)
		assert.Equal(t, h, res.Header.Get("Access-Control-Allow-Headers"), "the preflight allows %s", h)
	}
	res := preflight("x-unknown")
	assert.Empty(t, res.Header.Get("Access-Control-Allow-Headers"), "other headers stay refused")

	req, err := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", app)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("X-Request-Id", "page-7")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, app, res.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "page-7", res.Header.Get("X-Request-Id"), "the page's own request id is kept")
	assert.Contains(t, strings.Split(res.Header.Get("Access-Control-Expose-Headers"), ","), gqlhttp.RequestIDHeader, "and readable cross-origin")
}
