package main

import (
	"bytes"
	"context"
	"encoding/json"
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

func TestConfigDefaultsAreDemoMode(t *testing.T) {
	c, err := parseConfig(nil, envMap(nil), io.Discard)
	require.NoError(t, err)
	assert.True(t, c.demo())
	assert.Equal(t, ":8080", c.ListenAddr)
	assert.Equal(t, []string{"Authorization"}, c.ForwardHeaders)
	assert.True(t, c.Introspection, "introspection is on in demo mode")
	assert.Equal(t, 10*time.Second, c.UpstreamTimeout)
	assert.Equal(t, "Authorization", c.UpstreamAuthHeader)
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
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var (
		runErr error
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		runErr = run(ctx, append([]string{"-listen-addr", "127.0.0.1:0", "-log-level", "error"}, args...), envMap(nil), io.Discard, io.Discard, ready)
	})
	select {
	case addr := <-ready:
		base = "http://" + addr
	case <-time.After(30 * time.Second):
		cancel()
		wg.Wait()
		t.Fatalf("server did not start: %v", runErr)
	}
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			wg.Wait()
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return base, stop
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
