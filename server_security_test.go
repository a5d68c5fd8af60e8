package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

func TestSecurityConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, envMap(nil), io.Discard)
	require.NoError(t, err)
	s := c.Security
	assert.EqualValues(t, 1<<20, s.MaxRequestBytes)
	assert.Equal(t, 15000, s.MaxTokens)
	assert.Equal(t, 15, s.MaxDepth)
	assert.Equal(t, 30, s.MaxAliases)
	assert.Equal(t, 20, s.MaxRootFields)
	assert.Equal(t, 100, s.MaxErrors)
	assert.False(t, s.Batching)
	assert.False(t, s.DisableAPQ)
	assert.True(t, s.Suggestions, "suggestions are on in demo mode")
	assert.Equal(t, []string{"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"}, s.AllowedOrigins,
		"demo mode lets the IDE's own origin in")

	c, err = parseConfig([]string{"-upstream-url", "https://crm.example.com"}, envMap(nil), io.Discard)
	require.NoError(t, err)
	assert.False(t, c.Security.Suggestions, "off outside demo mode")
	assert.False(t, c.Introspection)
	assert.Empty(t, c.Security.AllowedOrigins, "no cross-origin access unless configured")
}

func TestSecurityConfigFromEnvironmentAndFlags(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "q.graphql"), []byte(`query Q { user(id: "1") { id } }`), 0o644))
	env := envMap(map[string]string{
		"SALESGRAPH_UPSTREAM_URL":        "https://crm.example.com",
		"SALESGRAPH_MAX_DEPTH":           "9",
		"SALESGRAPH_MAX_REQUEST_BYTES":   "65536",
		"SALESGRAPH_BATCHING":            "true",
		"SALESGRAPH_CSRF_HEADERS":        "X-Our-App, X-Other",
		"SALESGRAPH_CORS_ORIGINS":        "https://app.example.com,https://admin.example.com",
		"SALESGRAPH_SUGGESTIONS":         "true",
		"SALESGRAPH_APQ":                 "false",
		"SALESGRAPH_ALLOWED_OPERATIONS":  dir,
		"SALESGRAPH_UPSTREAM_PER_PAGE":   "50",
		"SALESGRAPH_MAX_UPSTREAM_CALLS":  "40",
		"SALESGRAPH_MAX_RESPONSE_BYTES":  "100000",
		"SALESGRAPH_THREAD_LOOKUP_PAGES": "2",
	})
	c, err := parseConfig([]string{"-max-depth", "12", "-max-batch-size", "4"}, env, io.Discard)
	require.NoError(t, err)
	s := c.Security
	assert.Equal(t, 12, s.MaxDepth, "a flag wins over the environment")
	assert.EqualValues(t, 65536, s.MaxRequestBytes)
	assert.True(t, s.Batching)
	assert.Equal(t, 4, s.MaxBatchSize)
	assert.Equal(t, []string{"X-Our-App", "X-Other"}, s.CSRFHeaders)
	assert.Equal(t, []string{"https://app.example.com", "https://admin.example.com"}, s.AllowedOrigins)
	assert.True(t, s.Suggestions)
	assert.True(t, s.DisableAPQ)
	assert.Len(t, s.AllowedOperations, 1)
	assert.Equal(t, 50, s.UpstreamPageSize, "the estimate uses the page size asked of the upstream")
	assert.Equal(t, 40, s.MaxUpstreamCalls)
	assert.Equal(t, 100000, s.MaxResponseBytes)
	assert.Equal(t, 2, s.ThreadLookupPages)
}

func TestSecurityConfigRejectsInvalidValues(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.graphql"), []byte(`query Bad { user(id: "1") { nope } }`), 0o644))
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"hop-by-hop forwarded":      {args: []string{"-forward-headers", "Authorization,Connection"}, want: "Connection cannot be forwarded (hop-by-hop)"},
		"Host forwarded":            {env: map[string]string{"SALESGRAPH_FORWARD_HEADERS": "Host"}, want: "Host cannot be forwarded"},
		"Content-Length forwarded":  {args: []string{"-forward-headers", "content-length"}, want: "Content-Length cannot be forwarded"},
		"Proxy-* forwarded":         {args: []string{"-forward-headers", "Proxy-Authorization"}, want: "Proxy-Authorization cannot be forwarded"},
		"invalid header name":       {args: []string{"-forward-headers", "X Bad"}, want: "not a valid header name"},
		"zero depth":                {args: []string{"-max-depth", "0"}, want: "max-depth must be positive"},
		"negative body size":        {args: []string{"-max-request-bytes", "-1"}, want: "max-request-bytes must be positive"},
		"bad integer env":           {env: map[string]string{"SALESGRAPH_MAX_TOKENS": "lots"}, want: "SALESGRAPH_MAX_TOKENS"},
		"bad bool env":              {env: map[string]string{"SALESGRAPH_BATCHING": "perhaps"}, want: "SALESGRAPH_BATCHING"},
		"origin with a path":        {args: []string{"-cors-origins", "https://app.example.com/x"}, want: "cors-origins"},
		"star among origins":        {args: []string{"-cors-origins", "*,https://app.example.com"}, want: "cors-origins"},
		"safelisted CSRF header":    {args: []string{"-csrf-headers", "Content-Type"}, want: "CORS-safelisted"},
		"bad suggestions":           {args: []string{"-suggestions", "sometimes"}, want: "suggestions"},
		"missing allow-list":        {args: []string{"-allowed-operations", filepath.Join(dir, "missing")}, want: "allowed-operations"},
		"invalid allowed operation": {args: []string{"-allowed-operations", dir}, want: "Bad"},
		"tiny response cap":         {args: []string{"-max-response-bytes", "100"}, want: "max-response-bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseConfig(c.args, envMap(c.env), io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

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
