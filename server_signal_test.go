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

// helperMainEnv marks the process TestSIGTERMDrains starts: this test
// binary again, running main with the arguments after "--". It is not a
// SALESGRAPH_* name, which main would refuse as unknown.
const helperMainEnv = "GO_TEST_SALESGRAPH_RUN_MAIN"

// TestHelperProcessMain is main in a child process of TestSIGTERMDrains;
// in any other run it returns at once.
func TestHelperProcessMain(t *testing.T) {
	if os.Getenv(helperMainEnv) != "1" {
		return
	}
	i := slices.Index(os.Args, "--")
	os.Args = append([]string{"salesgraph"}, os.Args[i+1:]...)
	main()
}

// TestSIGTERMDrains sends a real SIGTERM to a real process: readiness
// fails while the listener still accepts, then the listener closes, and
// the operations in flight finish with their data before the process exits
// cleanly. Before, SIGTERM cancelled every operation at once.
func TestSIGTERMDrains(t *testing.T) {
	const n = 3
	fake, gate, release := heldUpstream(t, n)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessMain$", "--",
		"-listen-addr", "127.0.0.1:0", "-upstream-url", fake.URL, "-upstream-authorization", resttest.DefaultToken,
		"-log-format", "json", "-shutdown-delay", "300ms", "-shutdown-timeout", "1m")
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
	t.Cleanup(release)

	logs := &syncBuffer{}
	addrc := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = logs.Write(append(sc.Bytes(), '\n'))
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "salesgraph listening" {
				addrc <- m["addr"].(string)
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(time.Minute):
		t.Fatalf("the process did not start:\n%s", logs.String())
	}

	ids := []int{4, 5, 6}
	answers := askMeetings("http://"+addr, ids...)
	require.True(t, gate.Wait(time.Minute), "all operations reached the upstream")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))

	var seen []int
	until(t, "the listener refuses connections", func() bool {
		code := readiness(t, addr)
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
	<-scanned // stderr is read to its end before Wait closes it
	require.NoError(t, cmd.Wait(), "exit status 0:\n%s", logs.String())
	assert.Contains(t, logs.String(), `"msg":"shut down: every operation finished"`)
}
