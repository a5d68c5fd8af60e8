package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// meetingsAnswer is the answer to meetingsQuery.
type meetingsAnswer struct {
	Status int
	Data   struct {
		User *struct{ Meetings struct{ TotalCount int } }
	}
	Errors []struct {
		Message    string
		Extensions struct{ Code string }
	}
	Err error // no answer at all
}

func meetingsQuery(id int) string {
	return `{"query":"{ user(id: \"` + strconv.Itoa(id) + `\") { meetings { totalCount } } }"}`
}

// askMeetings sends meetingsQuery for each id at once, each on its own
// connection; the answers arrive on the channel in any order, keyed by id.
func askMeetings(base string, ids ...int) <-chan map[int]meetingsAnswer {
	out := make(chan map[int]meetingsAnswer, 1)
	go func() {
		var (
			mu  sync.Mutex
			got = map[int]meetingsAnswer{}
			wg  sync.WaitGroup
		)
		for _, id := range ids {
			wg.Go(func() {
				a := postMeetings(base, id)
				mu.Lock()
				got[id] = a
				mu.Unlock()
			})
		}
		wg.Wait()
		out <- got
	}()
	return out
}

func postMeetings(base string, id int) (a meetingsAnswer) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post(base+"/graphql", "application/json", strings.NewReader(meetingsQuery(id)))
	if err != nil {
		a.Err = err
		return a
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	a.Err = json.NewDecoder(resp.Body).Decode(&a)
	return a
}

// refused reports whether addr refuses TCP connections now.
func refused(addr string) bool {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	_ = c.Close()
	return false
}

// readiness is one look at /readyz: its status, 0 if the connection was
// refused, or -1 if it was closed unanswered, as happens to a connection
// still in the kernel's backlog when the listener closes.
func readiness(t *testing.T, addr string) int {
	t.Helper()
	code, _ := readyz(t, addr)
	return code
}

// readyz is readiness with the body.
func readyz(t *testing.T, addr string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/readyz")
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return 0, ""
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		return -1, ""
	case err != nil:
		t.Fatalf("readyz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, string(body)
}

// until calls cond until it holds, failing the test if that takes longer
// than a minute (a hang, not a measurement). Each call does real I/O with
// the server, so the loop does not spin.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
	}
}

// heldUpstream is a fake upstream whose answers wait until release, with a
// gate that says when n calls are held.
func heldUpstream(t *testing.T, n int) (fake *fakeapi.Server, gate *fakeapi.Gate, release func()) {
	fake = fakeapi.NewServer()
	t.Cleanup(fake.Close)
	release = fake.Hold()
	return fake, fake.Gate(n), release
}

// TestShutdownLetsOperationsInFlightFinish: on SIGTERM, operations in
// flight finish with their data (they were all cancelled at once before:
// the server's requests had the signal's context), while new connections
// are refused.
func TestShutdownLetsOperationsInFlightFinish(t *testing.T) {
	const n = 5
	fake, gate, release := heldUpstream(t, n)
	s := launch(t, "-upstream-url", fake.URL, "-upstream-authorization", fakeapi.DefaultToken, "-shutdown-timeout", "1m", "-log-level", "info")
	t.Cleanup(release) // before the server's stop, should the test fail
	ids := []int{1, 2, 3, 4, 5}
	answers := askMeetings(s.base, ids...)
	require.True(t, gate.Wait(time.Minute), "all operations reached the upstream")

	s.signal()
	until(t, "the listener refuses connections", func() bool { return refused(s.addr) })
	release()

	got := <-answers
	data := fake.Dataset()
	for _, id := range ids {
		a := got[id]
		require.NoError(t, a.Err, "user %d", id)
		assert.Equal(t, http.StatusOK, a.Status)
		require.Empty(t, a.Errors, "user %d", id)
		u, ok := data.User(int64(id))
		require.True(t, ok)
		require.NotNil(t, a.Data.User)
		assert.Equal(t, len(u.Meetings), a.Data.User.Meetings.TotalCount, "user %d", id)
	}
	require.NoError(t, s.wait(), "a drain within the timeout is a clean exit")
	assert.NotNil(t, s.logLine("shut down: every operation finished"))
}

// TestShutdownCancelsWhatOutlastsTheTimeout: what is still running when
// -shutdown-timeout has passed is cancelled, and says so.
func TestShutdownCancelsWhatOutlastsTheTimeout(t *testing.T) {
	fake, gate, release := heldUpstream(t, 1) // released only when the test ends
	s := launch(t, "-upstream-url", fake.URL, "-upstream-authorization", fakeapi.DefaultToken, "-shutdown-timeout", "100ms")
	t.Cleanup(release)
	answers := askMeetings(s.base, 1)
	require.True(t, gate.Wait(time.Minute))

	s.signal()
	a := (<-answers)[1]
	require.NoError(t, a.Err, "the cancelled operation still answered")
	require.Len(t, a.Errors, 1)
	assert.Equal(t, graph.CodeCancelled, a.Errors[0].Extensions.Code)
	err := s.wait()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "operations still in flight after shutdown-timeout (100ms) were cancelled")
}

// TestShutdownFailsReadinessBeforeRefusing: load balancers need /readyz to
// fail while the server still serves, for -shutdown-delay, before its
// listener closes; before, /readyz went from 200 to connection refused. An
// operation held upstream keeps the server draining after the listener has
// closed, so that "refused" cannot come from the process having exited.
func TestShutdownFailsReadinessBeforeRefusing(t *testing.T) {
	fake, gate, release := heldUpstream(t, 1)
	s := launch(t, "-upstream-url", fake.URL, "-upstream-authorization", fakeapi.DefaultToken,
		"-shutdown-delay", "500ms", "-shutdown-timeout", "1m")
	t.Cleanup(release)
	answers := askMeetings(s.base, 7)
	require.True(t, gate.Wait(time.Minute))
	require.Equal(t, http.StatusOK, readiness(t, s.addr))

	s.signal()
	var seen []int // each status once, in the order first seen
	var notReady string
	until(t, "the listener refuses connections", func() bool {
		code, body := readyz(t, s.addr)
		if len(seen) == 0 || seen[len(seen)-1] != code {
			seen = append(seen, code)
		}
		if code == http.StatusServiceUnavailable && notReady == "" {
			notReady = body
		}
		return code == 0
	})
	assert.True(t, strings.HasPrefix(notReady, "not ready: draining\n"), "/readyz says the server is draining: %q", notReady)
	failed, gone := slices.Index(seen, http.StatusServiceUnavailable), slices.IndexFunc(seen, func(c int) bool { return c <= 0 })
	require.GreaterOrEqual(t, failed, 0, "readiness never failed: %v", seen)
	assert.Less(t, failed, gone, "readiness failed before the listener closed: %v", seen)
	assert.NotContains(t, seen[failed:], http.StatusOK, "and stayed failed: %v", seen)

	release()
	a := (<-answers)[7]
	require.NoError(t, a.Err)
	require.Empty(t, a.Errors)
	u, _ := fake.Dataset().User(7)
	assert.Equal(t, len(u.Meetings), a.Data.User.Meetings.TotalCount)
	require.NoError(t, s.wait())
}

// TestDebugLogsEveryUpstreamCall: -log-level debug printed nothing more
// than info, since nothing logged at debug on the normal path.
func TestDebugLogsEveryUpstreamCall(t *testing.T) {
	s := launch(t, "-log-level", "debug")
	a := postMeetings(s.base, 3)
	require.NoError(t, a.Err)
	require.Empty(t, a.Errors)
	require.NoError(t, s.stop())

	line := s.logLine("upstream call")
	require.NotNil(t, line, "no upstream call logged at debug:\n%s", s.logs.String())
	assert.Equal(t, "DEBUG", line["level"])
	assert.Equal(t, restclient.EndpointUserMeetings, line["endpoint"])
	assert.Equal(t, "/api/v1/users/3/meetings", line["path"])
	assert.EqualValues(t, http.StatusOK, line["httpStatus"])
	assert.EqualValues(t, 1, line["attempt"])

	quiet := launch(t, "-log-level", "info")
	postMeetings(quiet.base, 3)
	require.NoError(t, quiet.stop())
	assert.NotNil(t, quiet.logLine("salesgraph listening"))
	assert.Nil(t, quiet.logLine("upstream call"), "not at info")
}

// rawConn is a TCP connection to addr driven by hand, for tests that need
// to know which connection a request travels on.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	// A hang guard, not a measurement: every read here is answered at once.
	require.NoError(t, c.SetDeadline(time.Now().Add(time.Minute)))
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// get sends GET path on the connection, keeping it alive, and returns the
// answer's status.
func (c *rawConn) get(t *testing.T, path string) int {
	t.Helper()
	_, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: salesgraph\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(c.r, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestConnectionCap: with -max-connections 3, the fourth connection is
// refused at once while none of the three is idle, an idle keep-alive
// connection is closed to let a new one in, and the probes on the metrics
// listener answer throughout. Before, connections were not capped at all:
// held connections used up the file descriptors and everything timed out.
func TestConnectionCap(t *testing.T) {
	fake, gate, release := heldUpstream(t, 2)
	s := launch(t, "-upstream-url", fake.URL, "-upstream-authorization", fakeapi.DefaultToken,
		"-max-connections", "3", "-metrics-addr", "127.0.0.1:0", "-log-level", "info")
	t.Cleanup(release)
	listening := s.logLine("salesgraph listening")
	require.NotNil(t, listening)
	admin := "http://" + listening["metrics"].(string)
	metric := func(series string) float64 {
		_, body := get(t, admin+"/metrics")
		return metricValue(t, body, series)
	}

	// Two connections busy with operations held upstream, one that has
	// sent nothing yet: none is idle.
	answers := askMeetings(s.base, 1, 2)
	require.True(t, gate.Wait(time.Minute))
	quiet := dialRaw(t, s.addr)
	until(t, "three connections are open", func() bool { return metric("salesgraph_http_connections_open") == 3 })

	// The fourth is answered 503 and closed, not queued.
	extra := dialRaw(t, s.addr)
	b, err := io.ReadAll(extra)
	if err == nil || !errors.Is(err, syscall.ECONNRESET) {
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(b), "HTTP/1.1 503 Service Unavailable\r\n"), "%q", b)
	}
	assert.Equal(t, 1.0, metric("salesgraph_http_connections_refused_total"))

	// The probes answer on the metrics listener, which is not capped.
	code, _ := get(t, admin+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	code, _ = get(t, admin+"/readyz")
	assert.Equal(t, http.StatusOK, code)

	// Once the quiet connection has served a request and is idle, it is
	// the one closed to make room for a real request on a new connection
	// (one that needs no upstream call, the upstream being held).
	require.Equal(t, http.StatusOK, quiet.get(t, "/healthz"))
	until(t, "the connection is idle", func() bool { return metric("salesgraph_http_connections_idle") == 1 })
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post(s.base+"/graphql", "application/json", strings.NewReader(`{"query":"{ user(id: \"3\") { id } }"}`))
	require.NoError(t, err)
	var user struct {
		Data   struct{ User struct{ ID string } }
		Errors []any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&user))
	require.NoError(t, resp.Body.Close())
	assert.Empty(t, user.Errors)
	assert.Equal(t, "3", user.Data.User.ID)
	_, err = quiet.r.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "the idle connection was closed")
	assert.Equal(t, 1.0, metric("salesgraph_http_connections_reclaimed_total"))
	assert.Equal(t, 1.0, metric("salesgraph_http_connections_refused_total"), "no more refusals")

	release()
	got := <-answers
	data := fake.Dataset()
	for _, id := range []int{1, 2} {
		require.NoError(t, got[id].Err)
		assert.Empty(t, got[id].Errors, "the busy connections were never touched")
		u, _ := data.User(int64(id))
		assert.Equal(t, len(u.Meetings), got[id].Data.User.Meetings.TotalCount)
	}
}
