package config

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/redisconn"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// envList is m as os.Environ lists an environment.
func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// parse is Load for tests that set a few variables through getenv and
// have no environment to check for unknown ones.
func parse(args []string, env map[string]string) (*Config, error) {
	return Load(args, envMap(env), nil, io.Discard)
}

func TestDefaultsAreDemoMode(t *testing.T) {
	c, err := parse(nil, nil)
	require.NoError(t, err)
	assert.True(t, c.DemoMode())
	assert.Equal(t, ":8080", c.Server.ListenAddr)
	assert.Equal(t, []string{"Authorization"}, c.Upstream.ForwardHeaders)
	assert.True(t, c.GraphQL.Introspection, "introspection is on in demo mode")
	assert.Equal(t, 10*time.Second, c.Upstream.Timeout)
	assert.Equal(t, "Authorization", c.Upstream.AuthHeader)
	assert.Equal(t, 5*time.Second, c.Shutdown.Delay)
	assert.Equal(t, 15*time.Second, c.Shutdown.Timeout)
	assert.Equal(t, DefaultMaxConnections, c.Server.MaxConnections)

	c, err = parse(nil, map[string]string{"SALESGRAPH_SHUTDOWN_DELAY": "0s", "SALESGRAPH_MAX_CONNECTIONS": "500"})
	require.NoError(t, err)
	assert.Zero(t, c.Shutdown.Delay)
	assert.Equal(t, 500, c.Server.MaxConnections)
}

func TestFromEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{
		"SALESGRAPH_LISTEN_ADDR":            "127.0.0.1:9000",
		"SALESGRAPH_UPSTREAM_URL":           "https://crm.example.com/",
		"SALESGRAPH_UPSTREAM_AUTHORIZATION": "Bearer static",
		"SALESGRAPH_FORWARD_HEADERS":        "authorization, x-api-key",
		"SALESGRAPH_UPSTREAM_TIMEZONE":      "Europe/Warsaw",
		"SALESGRAPH_UPSTREAM_PER_PAGE":      "100",
	}
	c, err := parse([]string{"-listen-addr", ":7000"}, env)
	require.NoError(t, err)
	assert.Equal(t, ":7000", c.Server.ListenAddr, "a flag wins over the environment")
	assert.Equal(t, "https://crm.example.com", c.Upstream.URL)
	assert.False(t, c.DemoMode())
	assert.False(t, c.GraphQL.Introspection, "introspection is off outside demo mode by default")
	assert.Equal(t, "Bearer static", string(c.Upstream.Authorization))
	assert.Equal(t, []string{"Authorization", "X-Api-Key"}, c.Upstream.ForwardHeaders, "canonical, once, here")
	assert.Equal(t, "Europe/Warsaw", c.Upstream.TimeZone.String())
	assert.Equal(t, 100, c.Upstream.PerPage)
	assert.Equal(t, 100, c.Security.UpstreamPageSize, "the estimate uses the page size asked of the upstream")
}

// TestEveryVariableIsTheFlagsName: SALESGRAPH_ and the flag's name in
// upper snake case, for every flag but -print-schema and -version, actions.
func TestEveryVariableIsTheFlagsName(t *testing.T) {
	c, err := parse(nil, nil)
	require.NoError(t, err)
	n := 0
	c.flags.VisitAll(func(f *flag.Flag) {
		want := " (SALESGRAPH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")) + ")"
		if f.Name == "print-schema" || f.Name == "version" {
			assert.NotContains(t, f.Usage, EnvPrefix)
			return
		}
		n++
		assert.True(t, strings.HasSuffix(f.Usage, want), "%s: %s", f.Name, f.Usage)
		env := map[string]string{envName(f.Name): "not valid for any setting \x00"}
		if _, err := Load(nil, envMap(env), envList(env), io.Discard); err != nil {
			assert.NotContains(t, err.Error(), "unknown environment variable", f.Name)
		}
	})
	assert.Greater(t, n, 50)
}

func TestRejectsInvalidValues(t *testing.T) {
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"relative upstream":   {env: map[string]string{"SALESGRAPH_UPSTREAM_URL": "crm.example.com"}, want: "upstream-url"},
		"ftp upstream":        {args: []string{"-upstream-url", "ftp://x"}, want: "upstream-url"},
		"unknown zone":        {env: map[string]string{"SALESGRAPH_UPSTREAM_TIMEZONE": "Mars/Olympus"}, want: "upstream-timezone"},
		"bad duration env":    {env: map[string]string{"SALESGRAPH_UPSTREAM_TIMEOUT": "soon"}, want: "not a duration"},
		"bad integer env":     {env: map[string]string{"SALESGRAPH_UPSTREAM_PER_PAGE": "many"}, want: "not an integer"},
		"negative timeout":    {args: []string{"-upstream-timeout", "-1s"}, want: "upstream-timeout"},
		"bad introspection":   {args: []string{"-introspection", "maybe"}, want: "introspection"},
		"bad log level":       {args: []string{"-log-level", "loud"}, want: "log-level"},
		"bad log format":      {args: []string{"-log-format", "xml"}, want: "log-format must be text or json"},
		"stray argument":      {args: []string{"serve"}, want: "unexpected arguments"},
		"zero concurrency":    {args: []string{"-max-upstream-concurrency", "0"}, want: "concurrency"},
		"bad schema format":   {args: []string{"-print-schema", "yaml"}, want: "print-schema"},
		"empty auth header":   {args: []string{"-upstream-auth-header", " "}, want: "upstream-auth-header"},
		"per page too large":  {args: []string{"-upstream-per-page", "5000"}, want: "upstream-per-page"},
		"budget below cap":    {args: []string{"-upstream-max-response-bytes", "2000000", "-upstream-body-budget", "1000000"}, want: "upstream-body-budget"},
		"memory below cap":    {args: []string{"-max-response-bytes", "2000000", "-max-response-memory", "1000000"}, want: "max-response-memory must be at least max-response-bytes"},
		"memory limit in MiB": {args: []string{"-memory-limit", "768"}, want: "memory-limit must be 0 or at least 67108864"},
		"negative memory":     {env: map[string]string{"SALESGRAPH_MEMORY_LIMIT": "-1"}, want: "memory-limit"},
		"negative delay":      {args: []string{"-shutdown-delay", "-1s"}, want: "shutdown-delay"},
		"zero shutdown":       {env: map[string]string{"SALESGRAPH_SHUTDOWN_TIMEOUT": "0s"}, want: "shutdown-timeout"},
		"no connections":      {args: []string{"-max-connections", "0"}, want: "max-connections"},
		"bad metrics addr":    {args: []string{"-metrics-addr", "nine thousand"}, want: "metrics-addr"},
		"bad ide assets":      {args: []string{"-ide-assets", "floppy"}, want: "ide-assets must be embedded or cdn"},
		"short cursor key":    {args: []string{"-cursor-secret", "too-short"}, want: "cursor-secret must be at least 32 bytes, got 9"},
		"redis scheme":        {args: []string{"-redis-url", "http://redis:6379"}, want: "redis-url: scheme"},
		"redis no secret":     {args: []string{"-redis-url", "redis://redis:6379", "-cache-ttl", "30s"}, want: "cache-key-secret is required"},
		"short cache key":     {args: []string{"-cache-key-secret", "short"}, want: "cache-key-secret must be at least 32 bytes, got 5"},
		"stale without ttl":   {env: map[string]string{"SALESGRAPH_CACHE_STALE_IF_ERROR": "1m"}, want: "cache-stale-if-error needs cache-ttl"},
		"negative rate":       {env: map[string]string{"SALESGRAPH_UPSTREAM_RATE_LIMIT": "-1"}, want: "upstream-rate-limit"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parse(c.args, c.env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// TestEveryProblemAtOnce: the problems of every group are reported
// together, not the first group's alone.
func TestEveryProblemAtOnce(t *testing.T) {
	_, err := parse([]string{"-upstream-timeout", "0s", "-max-depth", "0", "-upstream-retries", "10", "-forward-headers", "Host"}, nil)
	require.Error(t, err)
	for _, want := range []string{"upstream-timeout must be positive", "max-depth must be positive", "upstream-retries must be between 0 and 9", "forward-headers: Host cannot be forwarded"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestMetricsAddrAndTraceResolvers(t *testing.T) {
	c, err := parse(nil, map[string]string{"SALESGRAPH_METRICS_ADDR": " :9090 ", "SALESGRAPH_TRACE_RESOLVERS": "true"})
	require.NoError(t, err)
	assert.Equal(t, ":9090", c.Observability.MetricsAddr)
	assert.True(t, c.Observability.TraceResolvers)
}

func TestPprofOnlyOnTheMetricsListener(t *testing.T) {
	c, err := parse([]string{"-pprof", "-metrics-addr", "127.0.0.1:9090"}, nil)
	require.NoError(t, err)
	assert.True(t, c.Observability.Pprof)
	for _, addr := range []string{"", MetricsOff} {
		_, err = parse([]string{"-pprof", "-metrics-addr", addr}, nil)
		require.Error(t, err, "metrics-addr %q", addr)
		assert.Contains(t, err.Error(), "pprof needs metrics-addr")
	}
}

func TestUnknownEnvironmentVariables(t *testing.T) {
	cases := map[string]struct{ name, want string }{
		"misspelt upstream": {"SALESGRAPH_UPSTREAM_ULR", "SALESGRAPH_UPSTREAM_URL"},
		"lower case":        {"salesgraph_upstream_url", "SALESGRAPH_UPSTREAM_URL"},
		"security setting":  {"SALESGRAPH_MAX_DEPHT", "SALESGRAPH_MAX_DEPTH"},
		"resilience":        {"SALESGRAPH_UPSTREAM_RETRYS", "SALESGRAPH_UPSTREAM_RETRIES"},
		"set but empty":     {"SALESGRAPH_LOG_LEVLE", "SALESGRAPH_LOG_LEVEL"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{c.name: "https://crm.example.com", "PATH": "/usr/bin", "SALESGRAPH_DEMO_USERS": "3"}
			if name == "set but empty" {
				env[c.name] = ""
			}
			_, err := Load(nil, envMap(env), envList(env), io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "unknown environment variable "+c.name+" (did you mean "+c.want+"?)")
		})
	}

	// A variable close to none is named without a guess.
	env := map[string]string{"SALESGRAPH_COLOUR": "blue"}
	_, err := Load(nil, envMap(env), envList(env), io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown environment variable SALESGRAPH_COLOUR (salesgraph -help lists the settings)")

	// Known variables and other programs' variables pass.
	env = map[string]string{"SALESGRAPH_UPSTREAM_URL": "https://crm.example.com", "SALESGRAPH_MAX_DEPTH": "9", "HOME": "/root", "XSALESGRAPH_X": "1"}
	c, err := Load(nil, envMap(env), envList(env), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "https://crm.example.com", c.Upstream.URL)
	assert.Equal(t, 9, c.Security.MaxDepth)
}

func TestFlagErrorsAreOneLine(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown flag":  {[]string{"-lisen-addr", ":1"}, "flag provided but not defined: -lisen-addr (did you mean -listen-addr? salesgraph -help lists the flags)"},
		"double dash":   {[]string{"--upstream-ulr", "x"}, "did you mean -upstream-url?"},
		"invalid value": {[]string{"-demo-users", "many"}, `invalid value "many" for flag -demo-users`},
		// Nothing is close: a suggestion would be a wild guess.
		"unrelated flag":  {[]string{"-verbose"}, "flag provided but not defined: -verbose (salesgraph -help lists the flags)"},
		"unrelated short": {[]string{"-x"}, "flag provided but not defined: -x (salesgraph -help lists the flags)"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, err := Load(c.args, envMap(nil), nil, &stderr)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), "-help lists the flags")
			assert.NotContains(t, err.Error(), "\n")
			assert.Empty(t, stderr.String(), "no usage printed after an error")
		})
	}

	var stdout bytes.Buffer
	_, err := Load([]string{"-help"}, envMap(nil), nil, &stdout)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, stdout.String(), "-listen-addr")
	assert.Contains(t, stdout.String(), "(SALESGRAPH_LISTEN_ADDR)")
}

// TestUpstreamURLWithTheAPIPrefixIsRefused: restclient appends the
// endpoints' /api/v1/… to the base URL, so a base URL holding /api/v1 would
// send every call to /api/v1/api/v1/….
func TestUpstreamURLWithTheAPIPrefixIsRefused(t *testing.T) {
	for given, suggested := range map[string]string{
		"https://crm.example.com/api/v1":                  "https://crm.example.com",
		"https://crm.example.com/api/v1/":                 "https://crm.example.com",
		"https://crm.example.com/API/V1":                  "https://crm.example.com",
		"https://example.com/crm/api/v1":                  "https://example.com/crm",
		"https://crm.example.com/api/v1/users/7/meetings": "https://crm.example.com",
		"https://svc:secret@crm.example.com/api/v1":       "https://crm.example.com",
	} {
		t.Run(given, func(t *testing.T) {
			_, err := parse([]string{"-upstream-url", given}, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "upstream-url must be the API's base URL, without /api/v1: salesgraph adds /api/v1/users/… itself; use "+suggested)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
	for _, ok := range []string{"https://crm.example.com", "https://example.com/crm/", "https://example.com/api/v10", "https://example.com/myapi/v1"} {
		c, err := parse([]string{"-upstream-url", ok}, nil)
		require.NoError(t, err, ok)
		assert.Equal(t, strings.TrimRight(ok, "/"), c.Upstream.URL)
	}
}

func TestSecurityDefaults(t *testing.T) {
	c, err := parse(nil, nil)
	require.NoError(t, err)
	s := c.Security
	assert.EqualValues(t, gqlhttp.DefaultMaxRequestBytes, s.MaxRequestBytes)
	assert.Equal(t, gqlhttp.DefaultMaxTokens, s.MaxTokens)
	assert.Equal(t, gqlhttp.DefaultMaxDepth, s.MaxDepth)
	assert.Equal(t, gqlhttp.DefaultMaxAliases, s.MaxAliases)
	assert.Equal(t, gqlhttp.DefaultMaxRootFields, s.MaxRootFields)
	assert.Equal(t, gqlhttp.DefaultMaxErrors, s.MaxErrors)
	assert.Equal(t, graph.DefaultUpstreamPageSize, s.UpstreamPageSize, "the API's page size when none is asked")
	assert.Equal(t, []string{"Apollo-Require-Preflight", "X-Apollo-Operation-Name", "Graphql-Require-Preflight"}, s.CSRFHeaders,
		"graph's defaults, canonical as requests' headers are")
	assert.False(t, s.Batching)
	assert.False(t, s.DisableAPQ)
	assert.True(t, s.Suggestions, "suggestions are on in demo mode")
	assert.Equal(t, []string{"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"}, s.AllowedOrigins,
		"demo mode lets the IDE's own origin in")

	c, err = parse([]string{"-upstream-url", "https://crm.example.com"}, nil)
	require.NoError(t, err)
	assert.False(t, c.Security.Suggestions, "off outside demo mode")
	assert.False(t, c.GraphQL.Introspection)
	assert.Empty(t, c.Security.AllowedOrigins, "no cross-origin access unless configured")
}

func TestSecurityFromEnvironmentAndFlags(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "q.graphql"), []byte(`query Q { user(id: "1") { id } }`), 0o644))
	env := map[string]string{
		"SALESGRAPH_UPSTREAM_URL":        "https://crm.example.com",
		"SALESGRAPH_MAX_DEPTH":           "9",
		"SALESGRAPH_MAX_REQUEST_BYTES":   "65536",
		"SALESGRAPH_BATCHING":            "true",
		"SALESGRAPH_CSRF_HEADERS":        "x-our-app, X-Other",
		"SALESGRAPH_CORS_ORIGINS":        "https://app.example.com,https://admin.example.com",
		"SALESGRAPH_SUGGESTIONS":         "true",
		"SALESGRAPH_APQ":                 "false",
		"SALESGRAPH_ALLOWED_OPERATIONS":  dir,
		"SALESGRAPH_UPSTREAM_PER_PAGE":   "50",
		"SALESGRAPH_MAX_UPSTREAM_CALLS":  "40",
		"SALESGRAPH_MAX_RESPONSE_BYTES":  "100000",
		"SALESGRAPH_THREAD_LOOKUP_PAGES": "2",
	}
	c, err := parse([]string{"-max-depth", "12", "-max-batch-size", "4"}, env)
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
	assert.Equal(t, dir, c.GraphQL.AllowedOperations)
	assert.Equal(t, 50, s.UpstreamPageSize, "the estimate uses the page size asked of the upstream")
	assert.Equal(t, 40, s.MaxUpstreamCalls)
	assert.Equal(t, 100000, s.MaxResponseBytes)
	assert.Equal(t, 2, s.ThreadLookupPages)
}

func TestSecurityRejectsInvalidValues(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.graphql"), []byte(`query Bad { user(id: "1") { nope } }`), 0o644))
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"hop-by-hop forwarded":      {args: []string{"-forward-headers", "Authorization,Connection"}, want: "forward-headers: Connection cannot be forwarded (hop-by-hop)"},
		"Host forwarded":            {env: map[string]string{"SALESGRAPH_FORWARD_HEADERS": "Host"}, want: "Host cannot be forwarded"},
		"Content-Length forwarded":  {args: []string{"-forward-headers", "content-length"}, want: "Content-Length cannot be forwarded"},
		"Proxy-* forwarded":         {args: []string{"-forward-headers", "Proxy-Authorization"}, want: "Proxy-Authorization cannot be forwarded"},
		"invalid header name":       {args: []string{"-forward-headers", "X Bad"}, want: "not a valid header name"},
		"zero depth":                {args: []string{"-max-depth", "0"}, want: "max-depth must be positive"},
		"negative body size":        {args: []string{"-max-request-bytes", "-1"}, want: "max-request-bytes must be positive"},
		"one error":                 {args: []string{"-max-errors", "1"}, want: "max-errors must be at least 2: one error is kept for the summary"},
		"bad integer env":           {env: map[string]string{"SALESGRAPH_MAX_TOKENS": "lots"}, want: "SALESGRAPH_MAX_TOKENS"},
		"bad bool env":              {env: map[string]string{"SALESGRAPH_BATCHING": "perhaps"}, want: "SALESGRAPH_BATCHING"},
		"origin with a path":        {args: []string{"-cors-origins", "https://app.example.com/x"}, want: `cors-origins: "https://app.example.com/x" is not an origin`},
		"star among origins":        {args: []string{"-cors-origins", "*,https://app.example.com"}, want: `cors-origins: "*" allows every origin`},
		"safelisted CSRF header":    {args: []string{"-csrf-headers", "Content-Type"}, want: "csrf-headers: Content-Type is CORS-safelisted"},
		"bad suggestions":           {args: []string{"-suggestions", "sometimes"}, want: "suggestions"},
		"missing allow-list":        {args: []string{"-allowed-operations", filepath.Join(dir, "missing")}, want: "allowed-operations: "},
		"invalid allowed operation": {args: []string{"-allowed-operations", dir}, want: "allowed-operations: operation Bad"},
		"tiny response cap":         {args: []string{"-max-response-bytes", "100"}, want: "max-response-bytes must be at least 1024"},
		"memory below the cap":      {args: []string{"-max-response-bytes", "2000000", "-max-response-memory", "1000000"}, want: "max-response-memory must be at least max-response-bytes (2000000), got 1000000"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parse(c.args, c.env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.NotRegexp(t, `\b(ForwardHeaders|CSRFHeaders|AllowedOrigins|AllowedOperations|MaxDepth|MaxResponseBytes|MaxResponseMemory)\b`, err.Error(),
				"the user reads flag names, not Go fields")
		})
	}
}

func TestResilienceDefaults(t *testing.T) {
	c, err := parse(nil, nil)
	require.NoError(t, err)
	assert.Equal(t, Resilience{
		OperationTimeout: graph.DefaultOperationTimeout,
		Retry:            restclient.DefaultRetryPolicy(),
		Breaker:          restclient.DefaultBreakerSettings(),
		BreakerOn:        true,
		Hedge:            restclient.DefaultHedgePolicy(),
		HedgeOn:          true,
	}, c.Resilience)
}

func TestResilienceFromEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{
		"SALESGRAPH_OPERATION_TIMEOUT":                  "12s",
		"SALESGRAPH_UPSTREAM_RETRIES":                   "4",
		"SALESGRAPH_UPSTREAM_RETRY_BASE_DELAY":          "20ms",
		"SALESGRAPH_UPSTREAM_RETRY_MAX_DELAY":           "500ms",
		"SALESGRAPH_UPSTREAM_RETRY_AFTER_MAX":           "3s",
		"SALESGRAPH_UPSTREAM_RETRY_BUDGET":              "0.1",
		"SALESGRAPH_UPSTREAM_RETRY_BUDGET_WINDOW":       "30s",
		"SALESGRAPH_UPSTREAM_RETRY_MIN":                 "5",
		"SALESGRAPH_UPSTREAM_BREAKER":                   "true",
		"SALESGRAPH_UPSTREAM_BREAKER_FAILURE_RATIO":     "0.75",
		"SALESGRAPH_UPSTREAM_BREAKER_MIN_REQUESTS":      "50",
		"SALESGRAPH_UPSTREAM_BREAKER_WINDOW":            "20s",
		"SALESGRAPH_UPSTREAM_BREAKER_OPEN_TIMEOUT":      "7s",
		"SALESGRAPH_UPSTREAM_BREAKER_PROBES":            "2",
		"SALESGRAPH_UPSTREAM_BREAKER_PATH_FAILURES":     "7",
		"SALESGRAPH_UPSTREAM_BREAKER_PATH_EJECTION":     "2s",
		"SALESGRAPH_UPSTREAM_BREAKER_MAX_PATH_EJECTION": "1m",
		"SALESGRAPH_UPSTREAM_HEDGE_PERCENTILE":          "0.9",
		"SALESGRAPH_UPSTREAM_HEDGE_MIN_DELAY":           "20ms",
		"SALESGRAPH_UPSTREAM_HEDGE_MAX_DELAY":           "200ms",
		"SALESGRAPH_UPSTREAM_HEDGE_BUDGET":              "0.1",
		"SALESGRAPH_UPSTREAM_HEDGE_BUDGET_WINDOW":       "5s",
		"SALESGRAPH_UPSTREAM_HEDGE_MIN":                 "3",
		"SALESGRAPH_UPSTREAM_HEDGE_MAX":                 "1",
	}
	c, err := parse([]string{"-upstream-retries", "1", "-upstream-breaker=false", "-upstream-hedge=false"}, env)
	require.NoError(t, err)
	assert.Equal(t, Resilience{
		OperationTimeout: 12 * time.Second,
		Retry: restclient.RetryPolicy{
			MaxAttempts: 2, // the flag wins over the environment
			BaseDelay:   20 * time.Millisecond, MaxDelay: 500 * time.Millisecond, MaxRetryAfter: 3 * time.Second,
			Budget: 0.1, BudgetWindow: 30 * time.Second, MinRetries: 5,
		},
		Breaker: restclient.BreakerSettings{
			FailureRatio: 0.75, MinRequests: 50, Window: 20 * time.Second, OpenTimeout: 7 * time.Second, HalfOpenProbes: 2,
			PathFailures: 7, PathEjection: 2 * time.Second, MaxPathEjection: time.Minute,
		},
		BreakerOn: false,
		Hedge: restclient.HedgePolicy{
			Percentile: 0.9, MinDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond,
			Budget: 0.1, BudgetWindow: 5 * time.Second, MinHedges: 3, MaxHedges: 1,
		},
		HedgeOn: false,
	}, c.Resilience)

	// 0 failures never ejects a path: restclient's "never" is negative.
	c, err = parse([]string{"-upstream-breaker-path-failures", "0"}, nil)
	require.NoError(t, err)
	assert.Negative(t, c.Resilience.Breaker.PathFailures)
	for _, args := range [][]string{
		{"-upstream-breaker-path-failures", "-1"},
		{"-upstream-breaker-path-ejection", "0s"},
		{"-upstream-breaker-path-ejection", "10s", "-upstream-breaker-max-path-ejection", "5s"},
	} {
		_, err := parse(args, nil)
		assert.Error(t, err, "%v", args)
	}

	c, err = parse([]string{"-upstream-retries", "0"}, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, c.Resilience.Retry.MaxAttempts, "0 retries: one attempt")
}

func TestResilienceRejectsInvalidValues(t *testing.T) {
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad duration env":     {env: map[string]string{"SALESGRAPH_OPERATION_TIMEOUT": "soon"}, want: "SALESGRAPH_OPERATION_TIMEOUT"},
		"bad ratio env":        {env: map[string]string{"SALESGRAPH_UPSTREAM_BREAKER_FAILURE_RATIO": "half"}, want: "not a number"},
		"bad bool env":         {env: map[string]string{"SALESGRAPH_UPSTREAM_BREAKER": "maybe"}, want: "not true or false"},
		"zero op timeout":      {args: []string{"-operation-timeout", "0s"}, want: "operation-timeout"},
		"negative retries":     {args: []string{"-upstream-retries", "-1"}, want: "upstream-retries"},
		"too many retries":     {args: []string{"-upstream-retries", "10"}, want: "upstream-retries"},
		"max below base":       {args: []string{"-upstream-retry-base-delay", "2s", "-upstream-retry-max-delay", "1s"}, want: "upstream-retry-max-delay must not be below upstream-retry-base-delay (2s), got 1s"},
		"zero retry-after cap": {args: []string{"-upstream-retry-after-max", "0s"}, want: "must be positive"},
		"budget above one":     {args: []string{"-upstream-retry-budget", "1.5"}, want: "upstream-retry-budget"},
		"zero budget":          {args: []string{"-upstream-retry-budget", "0"}, want: "upstream-retry-budget"},
		"zero min retries":     {args: []string{"-upstream-retry-min", "0"}, want: "upstream-retry-min"},
		"hedge percentile 1":   {args: []string{"-upstream-hedge-percentile", "1"}, want: "upstream-hedge-percentile"},
		"hedge max below min":  {args: []string{"-upstream-hedge-min-delay", "50ms", "-upstream-hedge-max-delay", "10ms"}, want: "upstream-hedge-max-delay must not be below upstream-hedge-min-delay (50ms), got 10ms"},
		"hedge budget above 1": {args: []string{"-upstream-hedge-budget", "2"}, want: "upstream-hedge-budget"},
		"zero hedges":          {args: []string{"-upstream-hedge-max", "0"}, want: "upstream-hedge-max must be from 1 to 4, got 0"},
		"five hedges":          {args: []string{"-upstream-hedge-max", "5"}, want: "upstream-hedge-max"},
		"ratio zero":           {args: []string{"-upstream-breaker-failure-ratio", "0"}, want: "failure-ratio"},
		"zero min requests":    {args: []string{"-upstream-breaker-min-requests", "0"}, want: "min-requests"},
		"zero window":          {args: []string{"-upstream-breaker-window", "0s"}, want: "upstream-breaker-window"},
		"too many probes":      {args: []string{"-upstream-breaker-probes", "5000"}, want: "upstream-breaker-probes must be between 1 and 1000, got 5000"},
		"ejection cap below":   {args: []string{"-upstream-breaker-path-ejection", "2m", "-upstream-breaker-max-path-ejection", "1m"}, want: "upstream-breaker-max-path-ejection must not be below upstream-breaker-path-ejection (2m0s), got 1m0s"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parse(c.args, c.env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// TestGraphsRulesInTheFlagsWords: every limit graph and the endpoint check
// is refused at zero, in the words of its flag and of the package's own
// rule; every field graph.Options.Problems can name has a flag, so no rule
// needs stating twice.
func TestGraphsRulesInTheFlagsWords(t *testing.T) {
	limits := []string{"max-request-bytes", "max-tokens", "max-depth", "max-aliases", "max-root-fields", "max-fields",
		"max-errors", "max-response-bytes", "max-batch-size", "apq-cache-size", "max-complexity", "max-upstream-calls", "thread-lookup-pages"}
	var args []string
	for _, f := range limits {
		args = append(args, "-"+f, "0")
	}
	_, err := parse(append(args, "-cursor-secret", "short"), nil)
	require.Error(t, err)
	for _, f := range limits {
		assert.Contains(t, err.Error(), f+" must be positive, got 0")
	}
	assert.Contains(t, err.Error(), "cursor-secret must be at least 32 bytes, got 5")

	// Every field graph can find wrong, each wrong at once.
	bad := graph.Options{CursorSecret: []byte("short"), Security: graph.Security{Options: gqlhttp.Options{
		CSRFHeaders: []string{"Accept"}, AllowedOrigins: []string{"ftp://x"}, ForwardHeaders: []string{"Host"},
		MaxResponseBytes: 10, MaxResponseMemory: 5, MaxErrors: 1, AllowedOperations: map[string]string{"x": "{ nope }"},
	}}}
	c, err := parse(nil, nil)
	require.NoError(t, err)
	fields := map[string]bool{}
	for _, p := range bad.Problems() {
		fields[p.Field] = true
		flag, ok := graphFlags[p.Field]
		if assert.True(t, ok, "%s has no flag", p.Field) {
			assert.NotNil(t, c.flags.Lookup(flag), "%s: no flag %s", p.Field, flag)
		}
	}
	assert.Len(t, fields, len(graphFlags), "graph names every field config maps")
}

// TestRestclientsRulesInTheFlagsWords: every field restclient's retry
// policy and breaker settings can find wrong has a flag config names it
// by, so the rules are restclient's alone.
func TestRestclientsRulesInTheFlagsWords(t *testing.T) {
	c, err := parse(nil, nil)
	require.NoError(t, err)
	fields := map[string]bool{}
	bad := restclient.BreakerSettings{PathEjection: 2 * time.Minute, MaxPathEjection: time.Minute}
	all := append(restclient.RetryPolicy{}.Problems(), restclient.BreakerSettings{}.Problems()...)
	for _, p := range append(all, bad.Problems()...) {
		if p.Field == "MaxAttempts" {
			continue // the flag counts retries: upstream-retries's own check
		}
		fields[p.Field] = true
		flag, ok := resilienceFlags[p.Field]
		if assert.True(t, ok, "%s has no flag", p.Field) {
			assert.NotNil(t, c.flags.Lookup(flag), "%s: no flag %s", p.Field, flag)
		}
	}
	assert.Len(t, fields, len(resilienceFlags), "restclient names every field config maps")
	_, err = parse([]string{"-upstream-retries", "10"}, nil)
	assert.ErrorContains(t, err, "upstream-retries must be between 0 and 9")
}

// TestDefaultsAreThePackagesOwn: a flag's default that is a package's
// default is read from the package, so the two cannot drift apart.
func TestDefaultsAreThePackagesOwn(t *testing.T) {
	c, err := parse(nil, nil)
	require.NoError(t, err)
	assert.Equal(t, restclient.DefaultTimeout, c.Upstream.Timeout)
	assert.Equal(t, restclient.DefaultPageParam, c.Upstream.PageParam)
	assert.Equal(t, restclient.DefaultPerPageParam, c.Upstream.PerPageParam)
	assert.EqualValues(t, restclient.DefaultMaxResponseBytes, c.Upstream.MaxResponseBytes)
	assert.EqualValues(t, restclient.DefaultBodyBudget, c.Upstream.BodyBudget)
	assert.Equal(t, graph.DefaultMaxUpstreamConcurrency, c.Upstream.MaxConcurrency)
	assert.Equal(t, graph.DefaultMaxOperationConcurrency, c.Upstream.MaxOperationConcurrency)
	assert.Equal(t, graph.DefaultForwardHeaders, c.Upstream.ForwardHeaders)
	assert.EqualValues(t, respcache.DefaultMaxBytes, c.Replicas.CacheMaxBytes)
	assert.Equal(t, redisconn.DefaultTimeout, c.Replicas.RedisTimeout)
}
