package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/resttest"
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

func TestConfigDefaultsAreDemoMode(t *testing.T) {
	c, err := parseConfig(nil, envMap(nil), io.Discard)
	require.NoError(t, err)
	assert.True(t, c.demo())
	assert.Equal(t, ":8080", c.ListenAddr)
	assert.Equal(t, []string{"Authorization"}, c.ForwardHeaders)
	assert.True(t, c.Introspection, "introspection is on in demo mode")
	assert.Equal(t, 10*time.Second, c.UpstreamTimeout)
	assert.Equal(t, "Authorization", c.UpstreamAuthHeader)
	assert.Equal(t, 5*time.Second, c.ShutdownDelay)
	assert.Equal(t, 15*time.Second, c.ShutdownTimeout)
	assert.Equal(t, defaultMaxConnections, c.MaxConnections)

	c, err = parseConfig(nil, envMap(map[string]string{"SALESGRAPH_SHUTDOWN_DELAY": "0s", "SALESGRAPH_MAX_CONNECTIONS": "500"}), io.Discard)
	require.NoError(t, err)
	assert.Zero(t, c.ShutdownDelay)
	assert.Equal(t, 500, c.MaxConnections)
}

func TestMaxConnectionsFitTheOpenFileLimit(t *testing.T) {
	assert.Equal(t, 10000, fitConnections(10000, 256, 1<<20), "a container's usual limit")
	assert.Equal(t, 65536-512-64, fitConnections(100000, 256, 65536))
	assert.Equal(t, 512, fitConnections(10000, 256, 1024), "half the descriptors when the margin would leave fewer")
}

func TestConfigFromEnvironmentAndFlags(t *testing.T) {
	env := envMap(map[string]string{
		"SALESGRAPH_LISTEN_ADDR":            "127.0.0.1:9000",
		"SALESGRAPH_UPSTREAM_URL":           "https://crm.example.com/",
		"SALESGRAPH_UPSTREAM_AUTHORIZATION": "Bearer static",
		"SALESGRAPH_FORWARD_HEADERS":        "authorization, x-api-key",
		"SALESGRAPH_UPSTREAM_TIMEZONE":      "Europe/Warsaw",
		"SALESGRAPH_UPSTREAM_PER_PAGE":      "100",
	})
	c, err := parseConfig([]string{"-listen-addr", ":7000"}, env, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, ":7000", c.ListenAddr, "a flag wins over the environment")
	assert.Equal(t, "https://crm.example.com", c.UpstreamURL)
	assert.False(t, c.demo())
	assert.False(t, c.Introspection, "introspection is off outside demo mode by default")
	assert.Equal(t, "Bearer static", c.UpstreamAuthorization)
	assert.Equal(t, []string{"Authorization", "X-Api-Key"}, c.ForwardHeaders)
	assert.Equal(t, "Europe/Warsaw", c.UpstreamTimeZone.String())
	assert.Equal(t, 100, c.PerPage)
}

func TestConfigRejectsInvalidValues(t *testing.T) {
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"relative upstream":  {env: map[string]string{"SALESGRAPH_UPSTREAM_URL": "crm.example.com"}, want: "upstream-url"},
		"ftp upstream":       {args: []string{"-upstream-url", "ftp://x"}, want: "upstream-url"},
		"unknown zone":       {env: map[string]string{"SALESGRAPH_UPSTREAM_TIMEZONE": "Mars/Olympus"}, want: "upstream-timezone"},
		"bad duration env":   {env: map[string]string{"SALESGRAPH_UPSTREAM_TIMEOUT": "soon"}, want: "not a duration"},
		"bad integer env":    {env: map[string]string{"SALESGRAPH_UPSTREAM_PER_PAGE": "many"}, want: "not an integer"},
		"negative timeout":   {args: []string{"-upstream-timeout", "-1s"}, want: "upstream-timeout"},
		"bad introspection":  {args: []string{"-introspection", "maybe"}, want: "introspection"},
		"bad log level":      {args: []string{"-log-level", "loud"}, want: "log-level"},
		"stray argument":     {args: []string{"serve"}, want: "unexpected arguments"},
		"zero concurrency":   {args: []string{"-max-upstream-concurrency", "0"}, want: "concurrency"},
		"bad schema format":  {args: []string{"-print-schema", "yaml"}, want: "print-schema"},
		"empty auth header":  {args: []string{"-upstream-auth-header", " "}, want: "upstream-auth-header"},
		"per page too large": {args: []string{"-upstream-per-page", "5000"}, want: "upstream-per-page"},
		"negative delay":     {args: []string{"-shutdown-delay", "-1s"}, want: "shutdown-delay"},
		"zero shutdown":      {env: map[string]string{"SALESGRAPH_SHUTDOWN_TIMEOUT": "0s"}, want: "shutdown-timeout"},
		"no connections":     {args: []string{"-max-connections", "0"}, want: "max-connections"},
		"budget below cap":   {args: []string{"-upstream-max-response-bytes", "2000000", "-upstream-body-budget", "1000000"}, want: "upstream-body-budget"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseConfig(c.args, envMap(c.env), io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// startServer runs the real main loop in demo mode on loopback.
func startServer(t *testing.T, args ...string) (base string, stop func() error) {
	t.Helper()
	s := launch(t, args...)
	return s.base, s.stop
}

// testServer is salesgraph running in this process, through run.
type testServer struct {
	addr, base string      // host:port, and http://host:port
	logs       *syncBuffer // what it logged, as JSON lines
	signal     func()      // what SIGTERM does in main: ends run's context
	done       chan struct{}
	err        error // run's answer, once done is closed
}

// launch starts salesgraph on a free loopback port with args after the
// defaults (no shutdown delay, errors only logged, as JSON); later
// flags win. It is stopped when the test ends.
func launch(t *testing.T, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{logs: &syncBuffer{}, signal: cancel, done: make(chan struct{})}
	ready := make(chan string, 1)
	args = append([]string{"-listen-addr", "127.0.0.1:0", "-log-level", "error", "-log-format", "json", "-shutdown-delay", "0"}, args...)
	go func() {
		defer close(s.done)
		s.err = run(ctx, args, envMap(nil), nil, io.Discard, s.logs, ready)
	}()
	select {
	case s.addr = <-ready:
		s.base = "http://" + s.addr
	case <-s.done:
		cancel()
		t.Fatalf("server did not start: %v", s.err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

// wait waits for run to return and returns its answer.
func (s *testServer) wait() error {
	<-s.done
	return s.err
}

// stop ends the server as SIGTERM does and waits for it.
func (s *testServer) stop() error {
	s.signal()
	return s.wait()
}

// logLine is the first line logged with msg, decoded; nil if none.
func (s *testServer) logLine(msg string) map[string]any {
	for _, l := range strings.Split(s.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write
// while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDemoModeServesTheNestedQuery(t *testing.T) {
	base, stop := startServer(t)
	data := resttest.NewDataset()
	u, ok := data.User(1)
	require.True(t, ok)

	body := `{"query":"{ user(id: \"1\") { id threads(first: 1) { totalCount nodes { name } } meetings(first: 100) { totalCount } } }"}`
	// The demo credential is sent for callers that send none.
	resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	var got struct {
		Data struct {
			User struct {
				ID      string
				Threads struct {
					TotalCount int
					Nodes      []struct{ Name string }
				}
				Meetings struct{ TotalCount int }
			}
		}
		Errors []any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Empty(t, got.Errors)
	assert.Equal(t, "1", got.Data.User.ID)
	assert.Equal(t, len(u.Threads), got.Data.User.Threads.TotalCount)
	assert.Equal(t, u.Threads[0].Name, got.Data.User.Threads.Nodes[0].Name)
	assert.Equal(t, len(u.Meetings), got.Data.User.Meetings.TotalCount)

	health, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	health.Body.Close()
	assert.Equal(t, http.StatusOK, health.StatusCode)

	require.NoError(t, stop(), "graceful shutdown returns no error")
	_, err = http.Post(base+"/graphql", "application/json", bytes.NewReader([]byte(body)))
	assert.Error(t, err, "the listener is closed after shutdown")
}

func TestUnknownEnvironmentVariablesStopTheStart(t *testing.T) {
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
			ready := make(chan string, 1)
			err := run(context.Background(), []string{"-listen-addr", "127.0.0.1:0"}, envMap(env), envList(env), io.Discard, io.Discard, ready)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "unknown environment variable "+c.name+" (did you mean "+c.want+"?)")
			assert.Empty(t, ready, "the server did not start")
		})
	}

	// Known variables and other programs' variables pass.
	env := map[string]string{"SALESGRAPH_UPSTREAM_URL": "https://crm.example.com", "SALESGRAPH_MAX_DEPTH": "9", "HOME": "/root", "XSALESGRAPH_X": "1"}
	c, err := loadConfig(nil, envMap(env), envList(env), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "https://crm.example.com", c.UpstreamURL)
}

func TestFlagErrorsAreOneLine(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown flag":  {[]string{"-lisen-addr", ":1"}, "flag provided but not defined: -lisen-addr (did you mean -listen-addr? salesgraph -help lists the flags)"},
		"double dash":   {[]string{"--upstream-ulr", "x"}, "did you mean -upstream-url?"},
		"invalid value": {[]string{"-demo-users", "many"}, `invalid value "many" for flag -demo-users`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, err := loadConfig(c.args, envMap(nil), nil, &stderr)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), "-help lists the flags")
			assert.NotContains(t, err.Error(), "\n")
			assert.Empty(t, stderr.String(), "no usage printed after an error")
		})
	}

	var stderr bytes.Buffer
	_, err := loadConfig([]string{"-help"}, envMap(nil), nil, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, stderr.String(), "-listen-addr")
	assert.Contains(t, stderr.String(), "(SALESGRAPH_LISTEN_ADDR)")
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
			_, err := parseConfig([]string{"-upstream-url", given}, envMap(nil), io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "upstream-url must be the API's base URL, without /api/v1: salesgraph adds /api/v1/users/… itself; use "+suggested)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
	for _, ok := range []string{"https://crm.example.com", "https://example.com/crm/", "https://example.com/api/v10", "https://example.com/myapi/v1"} {
		c, err := parseConfig([]string{"-upstream-url", ok}, envMap(nil), io.Discard)
		require.NoError(t, err, ok)
		assert.Equal(t, strings.TrimRight(ok, "/"), c.UpstreamURL)
	}
}
