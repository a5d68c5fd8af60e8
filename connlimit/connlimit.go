// Package connlimit caps the connections open on a listener, refusing the
// excess at once with a 503 instead of leaving it in the kernel's backlog,
// and reclaiming idle keep-alive connections near the cap.
package connlimit

import (
	"container/list"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Listener caps the connections open on the API listener, so that a
// client holding thousands of keep-alive connections cannot use up the
// process's file descriptors (and with them the upstream calls, the probes
// and everyone else's requests).
//
// Near the cap (from nine tenths of it) each new connection closes the
// connection that has been idle longest, if any: an idle keep-alive
// connection costs its client only a reconnect, which every HTTP client
// handles. At the cap with none idle, a new connection is answered a
// minimal 503 and closed at once, never queued: the kernel's backlog would
// otherwise hold it until the client times out, which is what
// golang.org/x/net/netutil.LimitListener does.
//
// It needs the server's connection states: set http.Server.ConnState to
// its ConnState.
type Listener struct {
	net.Listener
	max, high int
	log       *slog.Logger

	mu   sync.Mutex
	open int
	idle list.List // of *limitedConn, longest idle first

	refused, reclaimed atomic.Uint64
	lastWarn           atomic.Int64 // unix nanoseconds of the last refusal logged
}

// limitedConn is an admitted connection; Close gives its place back.
type limitedConn struct {
	net.Conn
	l       *Listener
	counted bool          // holds a place; guarded by l.mu
	idleAt  *list.Element // in l.idle while idle; guarded by l.mu
}

// refusal is the whole answer to a connection over the cap.
const refusal = "HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\n" +
	"Retry-After: 1\r\n" +
	"Content-Length: 21\r\n" +
	"\r\n" +
	"too many connections\n"

// refusalWarnEvery spaces the warnings about refused connections: a flood
// is logged as it starts, not once per connection.
const refusalWarnEvery = 10 * time.Second

// New caps the connections accepted on ln at max; refusals are logged to
// log at warn, at most every refusalWarnEvery.
func New(ln net.Listener, max int, log *slog.Logger) *Listener {
	return &Listener{Listener: ln, max: max, high: max - max/10, log: log}
}

// Accept returns the next connection admitted, refusing those over the cap
// on the way.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := l.admit(c); lc != nil {
			return lc, nil
		}
		l.refuse(c)
	}
}

func (l *Listener) admit(c net.Conn) *limitedConn {
	l.mu.Lock()
	var victim *limitedConn
	if l.open >= l.high {
		if e := l.idle.Front(); e != nil {
			victim = e.Value.(*limitedConn)
			l.releaseLocked(victim)
		}
	}
	var lc *limitedConn
	if l.open < l.max {
		l.open++
		lc = &limitedConn{Conn: c, l: l, counted: true}
	}
	l.mu.Unlock()
	if victim != nil {
		l.reclaimed.Add(1)
		_ = victim.Conn.Close() // its server goroutine sees the close and ends
	}
	return lc
}

func (l *Listener) refuse(c net.Conn) {
	n := l.refused.Add(1)
	// A fresh connection's send buffer is empty: the write does not wait
	// for the client; the deadline only bounds the unexpected.
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(refusal))
	_ = c.Close()
	now := time.Now().UnixNano()
	if last := l.lastWarn.Load(); now-last >= int64(refusalWarnEvery) && l.lastWarn.CompareAndSwap(last, now) {
		l.log.Warn("connection cap reached: refusing new connections", "maxConnections", l.max, "refusedSoFar", n)
	}
}

// releaseLocked gives c's place back, once.
func (l *Listener) releaseLocked(c *limitedConn) {
	if !c.counted {
		return
	}
	c.counted = false
	l.open--
	if c.idleAt != nil {
		l.idle.Remove(c.idleAt)
		c.idleAt = nil
	}
}

// Close gives the connection's place back and closes it.
func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	c.l.releaseLocked(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// ConnState is http.Server.ConnState: it keeps the list of idle
// connections, the ones that may be reclaimed.
func (l *Listener) ConnState(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok || lc.l != l {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case state == http.StateIdle && lc.counted && lc.idleAt == nil:
		lc.idleAt = l.idle.PushBack(lc)
	case state != http.StateIdle && lc.idleAt != nil:
		l.idle.Remove(lc.idleAt)
		lc.idleAt = nil
	}
}

// counts returns the connections open and idle now.
func (l *Listener) counts() (open, idle int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.idle.Len()
}

// Register adds the limiter's metrics to reg.
func (l *Listener) Register(reg prometheus.Registerer) {
	opts := func(name, help string) prometheus.GaugeOpts {
		return prometheus.GaugeOpts{Namespace: "salesgraph", Subsystem: "http", Name: name, Help: help}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(opts("connections_open", "Connections open on the API listener."),
			func() float64 { open, _ := l.counts(); return float64(open) }),
		prometheus.NewGaugeFunc(opts("connections_idle", "Keep-alive connections on the API listener waiting for a request."),
			func() float64 { _, idle := l.counts(); return float64(idle) }),
		prometheus.NewGaugeFunc(opts("connections_max", "The cap on connections open on the API listener (-max-connections)."),
			func() float64 { return float64(l.max) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts(opts("connections_refused_total", "Connections answered 503 and closed at once because the cap was reached with none idle.")),
			func() float64 { return float64(l.refused.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts(opts("connections_reclaimed_total", "Idle keep-alive connections closed to make room near the cap.")),
			func() float64 { return float64(l.reclaimed.Load()) }),
	)
}

// FitOpenFileLimit lowers max so that the connections, reserve other
// descriptors (upstream calls, files, the metrics listener) and a margin of
// 64 fit under the process's open-file limit, but never below half of that
// limit. limit is 0 when the process has none; lowered says whether fit is
// below max.
func FitOpenFileLimit(max, reserve int) (fit, limit int, lowered bool) {
	limit, ok := openFileLimit()
	if !ok {
		return max, 0, false
	}
	fit = fitConnections(max, reserve, limit)
	return fit, limit, fit < max
}

func fitConnections(max, reserve, fileLimit int) int {
	fit := fileLimit - reserve - 64
	if fit < fileLimit/2 {
		fit = fileLimit / 2
	}
	return min(max, fit)
}
