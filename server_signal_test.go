//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/config"
	"github.com/salesgraph/salesgraph/restclient/resttest"
)

// helperMainEnv marks the processes startMain starts: this test binary
// again, running main with the arguments after "--". It is not a
// SALESGRAPH_* name, which main would refuse as unknown.
const helperMainEnv = "GO_TEST_SALESGRAPH_RUN_MAIN"

// TestHelperProcessMain is main in a child process of startMain; in any
// other run it returns at once.
func TestHelperProcessMain(t *testing.T) {
	if os.Getenv(helperMainEnv) != "1" {
		return
	}
	i := slices.Index(os.Args, "--")
	os.Args = append([]string{"salesgraph"}, os.Args[i+1:]...)
	main()
}

// mainProcess is salesgraph's main running in a child process.
type mainProcess struct {
	cmd     *exec.Cmd
	addr    string      // where it listens
	logs    *syncBuffer // its stderr, JSON lines
	scanned chan struct{}
}

// startMain runs main in a child process with args (JSON logs at info
// on a free loopback port, then args) and waits until it listens: the log
// line listenMsg carries its address. The process is killed when the test
// ends, if still running.
func startMain(t *testing.T, listenMsg string, args ...string) *mainProcess {
	t.Helper()
	args = append([]string{"-listen-addr", "127.0.0.1:0", "-log-format", "json", "-log-level", "info"}, args...)
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestHelperProcessMain$", "--"}, args...)...)
	// Hermetic: none of this machine's salesgraph or OpenTelemetry settings.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name := strings.ToUpper(kv)
		return strings.HasPrefix(name, config.EnvPrefix) || strings.HasPrefix(name, "OTEL_")
	})
	cmd.Env = append(cmd.Env, helperMainEnv+"=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	p := &mainProcess{cmd: cmd, logs: &syncBuffer{}, scanned: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		defer close(p.scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = p.logs.Write(append(sc.Bytes(), '\n'))
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == listenMsg {
				addrc <- m["addr"].(string)
			}
		}
	}()
	select {
	case p.addr = <-addrc:
	case <-p.scanned:
		_ = cmd.Wait()
		t.Fatalf("the process ended before it listened:\n%s", p.logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("the process did not start:\n%s", p.logs.String())
	}
	return p
}

// wait waits for the process to exit, its stderr read to the end first.
func (p *mainProcess) wait() error {
	<-p.scanned
	return p.cmd.Wait()
}

// TestSIGTERMDrains sends a real SIGTERM to a real process: readiness
// fails while the listener still accepts, then the listener closes, and
// the operations in flight finish with their data before the process exits
// cleanly. Before, SIGTERM cancelled every operation at once.
func TestSIGTERMDrains(t *testing.T) {
	const n = 3
	fake, gate, release := heldUpstream(t, n)
	p := startMain(t, "salesgraph listening", "-upstream-url", fake.URL, "-upstream-authorization", resttest.DefaultToken,
		"-shutdown-delay", "300ms", "-shutdown-timeout", "1m")
	t.Cleanup(release)

	ids := []int{4, 5, 6}
	answers := askMeetings("http://"+p.addr, ids...)
	require.True(t, gate.Wait(time.Minute), "all operations reached the upstream")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))

	var seen []int
	until(t, "the listener refuses connections", func() bool {
		code := readiness(t, p.addr)
		if len(seen) == 0 || seen[len(seen)-1] != code {
			seen = append(seen, code)
		}
		return code == 0
	})
	failed, gone := slices.Index(seen, 503), slices.IndexFunc(seen, func(c int) bool { return c <= 0 })
	assert.True(t, failed >= 0 && failed < gone, "readiness failed before the listener closed: %v", seen)

	release()
	got := <-answers
	data := fake.Dataset()
	for _, id := range ids {
		require.NoError(t, got[id].Err)
		require.Empty(t, got[id].Errors, "user %d", id)
		u, _ := data.User(int64(id))
		assert.Equal(t, len(u.Meetings), got[id].Data.User.Meetings.TotalCount, "user %d", id)
	}
	require.NoError(t, p.wait(), "exit status 0:\n%s", p.logs.String())
	assert.Contains(t, p.logs.String(), `"msg":"shut down: every operation finished"`)
}

// TestSIGHUPDropsNoWork: a SIGHUP (a closed terminal, or an operator
// expecting a reload) is logged and otherwise ignored: the operations in
// flight finish with their data and the process keeps serving. Before, its
// default action ended the process at once (exit status 129), unlogged.
func TestSIGHUPDropsNoWork(t *testing.T) {
	const n = 3
	fake, gate, release := heldUpstream(t, n)
	p := startMain(t, "salesgraph listening", "-upstream-url", fake.URL, "-upstream-authorization", resttest.DefaultToken,
		"-shutdown-delay", "0")
	t.Cleanup(release)

	ids := []int{7, 8, 9}
	answers := askMeetings("http://"+p.addr, ids...)
	require.True(t, gate.Wait(time.Minute), "all operations reached the upstream")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	until(t, "the SIGHUP is logged, or the process gone", func() bool {
		return readiness(t, p.addr) <= 0 || strings.Contains(p.logs.String(), `"signal":"hangup"`)
	})
	require.Equal(t, 200, readiness(t, p.addr), "the process survives SIGHUP:\n%s", p.logs.String())

	release()
	got := <-answers
	data := fake.Dataset()
	for _, id := range ids {
		require.NoError(t, got[id].Err)
		require.Empty(t, got[id].Errors, "user %d", id)
		u, _ := data.User(int64(id))
		assert.Equal(t, len(u.Meetings), got[id].Data.User.Meetings.TotalCount, "user %d", id)
	}
	assert.Equal(t, 200, readiness(t, p.addr), "still serving after SIGHUP")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.wait(), "exit status 0:\n%s", p.logs.String())
}

// TestHelpPrintsToStdout: -help is asked for, so its list goes to stdout
// (where `salesgraph -help | less` reads it) and the exit status is 0.
// Before, it went to stderr.
func TestHelpPrintsToStdout(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessMain$", "--", "-help")
	cmd.Env = append(os.Environ(), helperMainEnv+"=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "exit status 0; stderr:\n%s", stderr.String())
	assert.Contains(t, stdout.String(), "-listen-addr")
	assert.Contains(t, stdout.String(), "(SALESGRAPH_LISTEN_ADDR)")
	assert.NotContains(t, stderr.String(), "-listen-addr", "nothing of the list on stderr")
}
