//go:build unix

package main

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// TestSIGTERMDrains sends a real SIGTERM to a real process: readiness
// fails while the listener still accepts, then the listener closes, and
// the operations in flight finish with their data before the process exits
// cleanly. Before, SIGTERM cancelled every operation at once.
func TestSIGTERMDrains(t *testing.T) {
	const n = 3
	fake, gate, release := heldUpstream(t, n)
	p := startMain(t, "salesgraph listening", "-upstream-url", fake.URL, "-upstream-authorization", fakeapi.DefaultToken,
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
	p := startMain(t, "salesgraph listening", "-upstream-url", fake.URL, "-upstream-authorization", fakeapi.DefaultToken,
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
