//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/config"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// raceEnabled is set by race_test.go in a -race build.
var raceEnabled bool

// TestPeakMemoryWithLargeUpstreamAnswers: 50 callers, each with a
// credential of its own (so that nothing is shared), ask at once for the
// meetings of a user whose upstream answer is 10 MB of addresses, which
// each response serves whole. With the default settings the process's
// peak RSS stays under 1 GiB: the body budget counts the records until the
// responses are built, a response is copied once, and the memory limit
// derived from the budgets keeps the collector's headroom small. Before,
// the same load peaked at 1.4-1.5 GiB (1.7-2 GiB in the runs).
//
// It measures a process of its own, the real main: this test binary run
// again, or, under -race, whose instrumentation multiplies memory, a
// build without it.
func TestPeakMemoryWithLargeUpstreamAnswers(t *testing.T) {
	const (
		callers = 50
		size    = 10 << 20
		userID  = 1
	)
	tokens := make([]string, callers)
	for i := range tokens {
		tokens[i] = "Bearer caller-" + strconv.Itoa(i)
	}
	fake := fakeapi.NewServer(fakeapi.WithTokens(tokens...))
	t.Cleanup(fake.Close)
	path := fmt.Sprintf("/api/v1/users/%d/meetings", userID)
	fake.Inject(fakeapi.Fault{Path: path, Kind: fakeapi.FaultLargeBody, Size: size, Field: "address"})
	u, ok := fake.Dataset().User(userID)
	require.True(t, ok)
	gate := fake.Gate(callers)

	addr, pid := startProcess(t, "-upstream-url", fake.URL,
		// Time limits only, generous for a loaded machine: every memory
		// setting is the default.
		"-upstream-timeout", "3m", "-operation-timeout", "4m")

	query := fmt.Sprintf(`{"query":"{ user(id: \"%d\") { meetings(first: 100) { totalCount nodes { id address } } } }"}`, userID)
	type answer struct {
		status int
		size   int
		head   []byte
		err    error
	}
	answers := make([]answer, callers)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Minute}
	for i := range callers {
		wg.Go(func() {
			var resp *http.Response
			var err error
			// A connection closed before any answer is tried again: on a
			// loaded machine this test's client can be slower to send its
			// request than the server's header timeout allows, and what
			// is measured here is memory.
			for range 3 {
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(query))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", tokens[i])
				if resp, err = client.Do(req); err == nil {
					break
				}
			}
			if err != nil {
				answers[i].err = err
				return
			}
			defer resp.Body.Close()
			a := &answers[i]
			a.status = resp.StatusCode
			// Read without keeping it all: the test's own memory is not
			// what is measured, but it shares the machine.
			head := make([]byte, 512)
			n, _ := io.ReadFull(resp.Body, head)
			a.head = head[:n]
			rest, err := io.Copy(io.Discard, resp.Body)
			a.size, a.err = n+int(rest), err
		})
	}
	require.True(t, gate.Wait(3*time.Minute), "the %d upstream calls were never in flight together (%d arrived)", callers, gate.Arrived())
	wg.Wait()
	peak := vmHWM(t, pid)

	served, refused := 0, map[string]int{}
	prefix := fmt.Sprintf(`{"data":{"user":{"meetings":{"totalCount":%d,"nodes":[{"id":"`, len(u.Meetings))
	for i, a := range answers {
		require.NoError(t, a.err, "caller %d", i)
		if bytes.HasPrefix(a.head, []byte(prefix)) {
			require.Equal(t, http.StatusOK, a.status)
			assert.Greater(t, a.size, size*9/10, "caller %d got every address", i)
			served++
			continue
		}
		m := codeInBody.FindSubmatch(a.head)
		require.NotNil(t, m, "caller %d: %d %s", i, a.status, a.head)
		refused[string(m[1])]++
	}
	for code := range refused {
		assert.Contains(t, []string{"RESPONSE_MEMORY_BUDGET_EXCEEDED", "UPSTREAM_MEMORY_LIMIT"}, code, "refused only for memory")
	}
	t.Logf("peak RSS %d MiB; %d answers served, refused: %v", peak>>20, served, refused)
	assert.GreaterOrEqual(t, served, callers*2/5, "the budgets let about half in at once, the rest as room is given back")
	assert.Less(t, peak, int64(1<<30), "peak RSS %d MiB", peak>>20)
}

var codeInBody = regexp.MustCompile(`"code":"([A-Z_]+)"`)

// startProcess runs salesgraph with args in a process of its own, with
// JSON logs and none of this machine's salesgraph, OpenTelemetry or Go
// runtime settings, and returns the address it serves on and its pid.
func startProcess(t *testing.T, args ...string) (addr string, pid int) {
	t.Helper()
	args = append([]string{"-listen-addr", "127.0.0.1:0", "-log-format", "json", "-shutdown-delay", "0"}, args...)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(strings.ToUpper(kv), "=")
		return strings.HasPrefix(name, config.EnvPrefix) || strings.HasPrefix(name, "OTEL_") ||
			name == "GOMEMLIMIT" || name == "GOGC" || name == "GODEBUG"
	})
	var cmd *exec.Cmd
	if raceEnabled {
		goTool, err := exec.LookPath("go")
		require.NoError(t, err, "go, to build salesgraph without -race")
		bin := filepath.Join(t.TempDir(), "salesgraph")
		build := exec.Command(goTool, "build", "-o", bin, ".")
		out, err := build.CombinedOutput()
		require.NoError(t, err, "go build: %s", out)
		cmd = exec.Command(bin, args...)
	} else {
		cmd = exec.Command(os.Args[0], append([]string{"-test.run=^TestHelperProcessMain$", "--"}, args...)...)
		env = append(env, helperMainEnv+"=1")
	}
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	logs := &syncBuffer{}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = logs.Write(append(sc.Bytes(), '\n'))
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "salesgraph listening" {
				addrc <- m["addr"].(string)
			}
		}
	}()
	select {
	case addr = <-addrc:
	case <-time.After(2 * time.Minute):
		t.Fatalf("salesgraph did not start:\n%s", logs.String())
	}
	return addr, cmd.Process.Pid
}

// vmHWM is the peak resident set size of process pid so far.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err, line)
			return kib << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
