package connlimit

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFitConnections(t *testing.T) {
	const upstream = 2 * 256
	assert.Equal(t, 10000, fitConnections(10000, upstream, 1<<20), "a container's usual limit")
	assert.Equal(t, 65536-512-64, fitConnections(100000, upstream, 65536))
	assert.Equal(t, 512, fitConnections(10000, upstream, 1024), "half the descriptors when the margin would leave fewer")

	fit, limit, lowered := FitOpenFileLimit(1, 0)
	assert.Equal(t, 1, fit, "one connection fits any limit")
	assert.False(t, lowered)
	if limit != 0 {
		assert.Greater(t, limit, 1)
	}
}

// accepted starts accepting on l and returns the admitted connections as
// they come.
func accepted(t *testing.T, l *Listener) <-chan net.Conn {
	t.Helper()
	ch := make(chan net.Conn)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(ch)
				return
			}
			ch <- c
		}
	}()
	return ch
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	// A hang guard, not a measurement: every read here is answered at once.
	require.NoError(t, c.SetDeadline(time.Now().Add(time.Minute)))
	return c
}

// TestRefusesAtTheCapAndReclaimsIdle: with a cap of 2 and none idle, a
// third connection is answered 503 and closed, unqueued; once one is idle,
// the next connection closes it and takes its place.
func TestRefusesAtTheCapAndReclaimsIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := New(ln, 2, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = l.Close() })
	conns := accepted(t, l)
	addr := ln.Addr().String()

	first := dial(t, addr)
	a := <-conns
	dial(t, addr)
	b := <-conns
	l.ConnState(a, http.StateActive)
	l.ConnState(b, http.StateActive)

	refused := dial(t, addr)
	resp, err := http.ReadResponse(bufio.NewReader(refused), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Equal(t, "too many connections\n", string(body))
	assert.EqualValues(t, 1, l.refused.Load())
	open, idle := l.counts()
	assert.Equal(t, 2, open)
	assert.Zero(t, idle)

	l.ConnState(a, http.StateIdle)
	dial(t, addr)
	c := <-conns
	assert.NotNil(t, c, "admitted in the idle connection's place")
	_, err = first.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the idle connection was closed")
	assert.EqualValues(t, 1, l.reclaimed.Load())
	assert.EqualValues(t, 1, l.refused.Load(), "no more refusals")

	// Closing gives the place back, once, however often it is closed.
	require.NoError(t, b.Close())
	_ = b.Close()
	open, _ = l.counts()
	assert.Equal(t, 1, open)
}
