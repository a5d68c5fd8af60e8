package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
)

func TestResilienceConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, envMap(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, resilienceConfig{
		OperationTimeout: graph.DefaultOperationTimeout,
		Retry:            restclient.DefaultRetryPolicy(),
		Breaker:          restclient.DefaultBreakerSettings(),
		BreakerOn:        true,
	}, c.Resilience)
}

func TestResilienceConfigFromEnvironmentAndFlags(t *testing.T) {
	env := envMap(map[string]string{
		"SALESGRAPH_OPERATION_TIMEOUT":              "12s",
		"SALESGRAPH_UPSTREAM_RETRIES":               "4",
		"SALESGRAPH_UPSTREAM_RETRY_BASE_DELAY":      "20ms",
		"SALESGRAPH_UPSTREAM_RETRY_MAX_DELAY":       "500ms",
		"SALESGRAPH_UPSTREAM_RETRY_AFTER_MAX":       "3s",
		"SALESGRAPH_UPSTREAM_RETRY_BUDGET":          "0.1",
		"SALESGRAPH_UPSTREAM_RETRY_BUDGET_WINDOW":   "30s",
		"SALESGRAPH_UPSTREAM_RETRY_MIN":             "5",
		"SALESGRAPH_UPSTREAM_BREAKER":               "true",
		"SALESGRAPH_UPSTREAM_BREAKER_FAILURE_RATIO": "0.75",
		"SALESGRAPH_UPSTREAM_BREAKER_MIN_REQUESTS":  "50",
		"SALESGRAPH_UPSTREAM_BREAKER_WINDOW":        "20s",
		"SALESGRAPH_UPSTREAM_BREAKER_OPEN_TIMEOUT":  "7s",
		"SALESGRAPH_UPSTREAM_BREAKER_PROBES":        "2",
	})
	c, err := parseConfig([]string{"-upstream-retries", "1", "-upstream-breaker=false"}, env, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, resilienceConfig{
		OperationTimeout: 12 * time.Second,
		Retry: restclient.RetryPolicy{
			MaxAttempts: 2, // the flag wins over the environment
			BaseDelay:   20 * time.Millisecond, MaxDelay: 500 * time.Millisecond, MaxRetryAfter: 3 * time.Second,
			Budget: 0.1, BudgetWindow: 30 * time.Second, MinRetries: 5,
		},
		Breaker:   restclient.BreakerSettings{FailureRatio: 0.75, MinRequests: 50, Window: 20 * time.Second, OpenTimeout: 7 * time.Second, HalfOpenProbes: 2},
		BreakerOn: false,
	}, c.Resilience)

	client, err := restclient.New("https://crm.example.com", c.Resilience.clientOptions()...)
	require.NoError(t, err, "the settings make a valid client")
	assert.True(t, client.Ready())

	c, err = parseConfig([]string{"-upstream-retries", "0"}, envMap(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 1, c.Resilience.Retry.MaxAttempts, "0 retries: one attempt")
}

func TestResilienceConfigRejectsInvalidValues(t *testing.T) {
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
		"max below base":       {args: []string{"-upstream-retry-base-delay", "2s", "-upstream-retry-max-delay", "1s"}, want: "upstream-retry-max-delay"},
		"zero retry-after cap": {args: []string{"-upstream-retry-after-max", "0s"}, want: "must be positive"},
		"budget above one":     {args: []string{"-upstream-retry-budget", "1.5"}, want: "upstream-retry-budget"},
		"zero budget":          {args: []string{"-upstream-retry-budget", "0"}, want: "upstream-retry-budget"},
		"zero min retries":     {args: []string{"-upstream-retry-min", "0"}, want: "upstream-retry-min"},
		"ratio zero":           {args: []string{"-upstream-breaker-failure-ratio", "0"}, want: "failure-ratio"},
		"zero min requests":    {args: []string{"-upstream-breaker-min-requests", "0"}, want: "min-requests"},
		"zero window":          {args: []string{"-upstream-breaker-window", "0s"}, want: "upstream-breaker-window"},
		"too many probes":      {args: []string{"-upstream-breaker-probes", "5000"}, want: "upstream-breaker-probes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseConfig(c.args, envMap(c.env), io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// TestOperationTimeoutReachesTheHandler serves demo mode with an upstream
// slower than the operation deadline.
func TestOperationTimeoutReachesTheHandler(t *testing.T) {
	base, _ := startServer(t, "-operation-timeout", "200ms", "-demo-latency", "1m")
	resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query": "{ user(id: \"1\") { meetings { totalCount } } }"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Data   map[string]any
		Errors []struct {
			Path       []any
			Extensions map[string]any
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Len(t, body.Errors, 1)
	assert.Equal(t, graph.CodeOperationTimeout, body.Errors[0].Extensions["code"])
	assert.Equal(t, []any{"user", "meetings"}, body.Errors[0].Path)
}
