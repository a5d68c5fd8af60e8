package fakeapi

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sync"
	"time"
)

// A Gate is a one-shot barrier installed with [Server.Gate]. It proves that
// a client sends k requests concurrently without measuring time: if the
// client sent them one after another, the first would wait for an answer
// that only the k-th can release, and [Gate.Wait] would time out.
type Gate struct {
	k    int
	full chan struct{} // closed when k requests are held at once
	open chan struct{} // closed when the gate opens, for whatever reason

	mu      sync.Mutex
	arrived int
	opened  bool
}

// Gate installs a gate that holds each of the next requests until k of them
// are held at once, then lets them all through; requests after those pass
// untouched. A held request whose client gives up is dropped from the count,
// so the gate still waits for k at once. Installing a gate releases the
// previous one. Gate panics if k < 1.
func (s *Server) Gate(k int) *Gate {
	if k < 1 {
		panic(fmt.Sprintf("fakeapi: Gate(%d): k must be at least 1", k))
	}
	g := &Gate{k: k, full: make(chan struct{}), open: make(chan struct{})}
	s.mu.Lock()
	old := s.gate
	s.gate = g
	s.mu.Unlock()
	if old != nil {
		old.Release()
	}
	return g
}

// Wait blocks until k requests have arrived and reports true, or until
// timeout elapses and reports false, having released every held request so
// that nothing hangs on a failed test.
func (g *Gate) Wait(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-g.full:
		return true
	case <-t.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.openLocked()
	select {
	case <-g.full: // the k-th arrived as the timer fired
		return true
	default:
		return false
	}
}

// Release opens the gate now: the held requests are answered and later ones
// pass untouched.
func (g *Gate) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.openLocked()
}

// Arrived returns how many requests the gate is holding or, once it has
// opened, held.
func (g *Gate) Arrived() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.arrived
}

func (g *Gate) openLocked() {
	if !g.opened {
		g.opened = true
		close(g.open)
	}
}

// hold holds one request at the gate and reports false if its client went
// away while held.
func (g *Gate) hold(ctx context.Context, done <-chan struct{}) bool {
	g.mu.Lock()
	if g.opened {
		g.mu.Unlock()
		return true
	}
	g.arrived++
	if g.arrived == g.k {
		close(g.full)
		g.openLocked()
		g.mu.Unlock()
		return true
	}
	g.mu.Unlock()

	select {
	case <-g.open:
		return true
	case <-done:
		return true
	case <-ctx.Done():
		g.mu.Lock()
		if !g.opened {
			g.arrived--
		}
		g.mu.Unlock()
		return false
	}
}

// hold is one Server.Hold or Server.HoldPath.
type hold struct {
	ch   chan struct{}
	once sync.Once
	path string // a path.Match pattern; "" holds every request
}

// holds reports whether h holds a request for path p.
func (h *hold) holds(p string) bool {
	if h.path == "" {
		return true
	}
	ok, _ := path.Match(h.path, p)
	return ok
}

func (h *hold) release() { h.once.Do(func() { close(h.ch) }) }

// Hold holds every request that arrives from now on until release is
// called, or the client gives up, or the server is reset or closed. It lets
// a test cancel a request it knows to be in flight. release may be called
// more than once.
func (s *Server) Hold() (release func()) {
	return s.addHold(&hold{ch: make(chan struct{})})
}

// HoldPath is Hold for the requests whose path matches pattern (a
// path.Match pattern such as "/api/v1/users/2/*") only: the others pass.
// It lets a test hold one user's calls and see what a client gets while
// the other users' calls are answered. HoldPath panics on a malformed
// pattern.
func (s *Server) HoldPath(pattern string) (release func()) {
	mustPattern(pattern)
	return s.addHold(&hold{ch: make(chan struct{}), path: pattern})
}

func (s *Server) addHold(h *hold) (release func()) {
	s.mu.Lock()
	s.holds = append(s.holds, h)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.holds = slices.DeleteFunc(s.holds, func(x *hold) bool { return x == h })
		s.mu.Unlock()
		h.release()
	}
}

// releaseHeld removes the gate and the holds and lets their requests go.
func (s *Server) releaseHeld() {
	s.mu.Lock()
	g, holds := s.gate, s.holds
	s.gate, s.holds = nil, nil
	s.mu.Unlock()
	if g != nil {
		g.Release()
	}
	for _, h := range holds {
		h.release()
	}
}
