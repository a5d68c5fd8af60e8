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
