package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/config"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
)

// TestUpstreamOptionsMakeAValidClient: the resilience settings, off and
// on, are options restclient accepts.
func TestUpstreamOptionsMakeAValidClient(t *testing.T) {
	for _, args := range [][]string{nil, {"-upstream-breaker=false", "-upstream-retries", "0"}} {
		cfg, err := config.Load(append([]string{"-upstream-url", "https://crm.example.com"}, args...), envMap(nil), nil, io.Discard)
		require.NoError(t, err)
		client, err := restclient.New(cfg.Upstream.URL, upstreamOptions(cfg, "Bearer static")...)
		require.NoError(t, err, "%v", args)
		assert.True(t, client.Ready())
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
