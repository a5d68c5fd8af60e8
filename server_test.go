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

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
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
	data := fakeapi.NewDataset()
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

// TestAConfigurationProblemStopsTheStart: run returns config.Load's
// error before it listens (the messages are config's tests).
func TestAConfigurationProblemStopsTheStart(t *testing.T) {
	env := map[string]string{"SALESGRAPH_UPSTREAM_ULR": "https://crm.example.com", "PATH": "/usr/bin"}
	ready := make(chan string, 1)
	err := run(context.Background(), []string{"-listen-addr", "127.0.0.1:0"}, envMap(env), envList(env), io.Discard, io.Discard, ready)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown environment variable SALESGRAPH_UPSTREAM_ULR (did you mean SALESGRAPH_UPSTREAM_URL?)")
	assert.Empty(t, ready, "the server did not start")
}
