package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/config"
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
