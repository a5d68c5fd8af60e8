package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// graphqlVars posts a query to a started server and decodes the answer.
func graphqlVars(t *testing.T, base, query string, vars map[string]any) (data map[string]any, errs []map[string]any) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	resp, err := http.Post(base+"/graphql", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Data   map[string]any
		Errors []map[string]any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Data, out.Errors
}

// -cursor-secret makes replicas accept each other's cursors; a replica with
// another secret refuses them.
func TestCursorSecretIsSharedByReplicas(t *testing.T) {
	const secret = "replicas-share-this-cursor-secret"
	a, _ := startServer(t, "-cursor-secret", secret)
	b, _ := startServer(t, "-cursor-secret", secret)
	c, _ := startServer(t, "-cursor-secret", "another-replica-has-another-secret")
	const q = `query($after: String) { user(id: "1") { threads(first: 2, after: $after) { pageInfo { endCursor } nodes { id } } } }`

	data, errs := graphqlVars(t, a, q, nil)
	require.Empty(t, errs)
	cursor := data["user"].(map[string]any)["threads"].(map[string]any)["pageInfo"].(map[string]any)["endCursor"].(string)

	_, errs = graphqlVars(t, b, q, map[string]any{"after": cursor})
	assert.Empty(t, errs, "a replica with the same secret accepts the cursor")
	_, errs = graphqlVars(t, c, q, map[string]any{"after": cursor})
	require.Len(t, errs, 1)
	assert.Equal(t, "BAD_USER_INPUT", errs[0]["extensions"].(map[string]any)["code"])
}

func TestCursorSecretIsRedacted(t *testing.T) {
	const secret = "cursor-secret-7733-cursor-secret-7733"
	var logs bytes.Buffer
	// An upstream URL with a password ends run after the summary is logged.
	err := run(context.Background(), []string{"-log-format", "json", "-listen-addr", "127.0.0.1:0", "-upstream-url", "https://svc:pw@crm.example.com/"},
		envMap(map[string]string{"SALESGRAPH_CURSOR_SECRET": secret}), nil, io.Discard, &logs, nil)
	require.Error(t, err)
	assert.NotContains(t, logs.String(), secret)
	found := false
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if m["msg"] == "configuration" {
			found = true
			assert.Equal(t, "[REDACTED]", m["graphQL"].(map[string]any)["cursorSecret"])
		}
	}
	assert.True(t, found, "a configuration line")
}
