package observe

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Probes answers Kubernetes' liveness and readiness probes.
//
// Liveness (/healthz) says the process can answer HTTP at all; it never
// looks at the upstream, so that an upstream outage never gets healthy pods
// restarted. Readiness (/readyz) says the pod should receive traffic: it is
// serving (not starting, not draining for shutdown) and every readiness
// check passes. Details (AddDetail) follow in the body without deciding it.
type Probes struct {
	state atomic.Int32 // starting, serving or draining

	mu      sync.RWMutex
	checks  []check
	details []detail
}

type detail struct {
	name  string
	value func() string
}

type check struct {
	name string
	ok   func() bool
}

// The server's states, as /readyz names them when not ready.
const (
	starting int32 = iota
	serving
	draining
)

// NewProbes returns probes that are not ready until SetServing(true).
func NewProbes() *Probes { return &Probes{} }

// SetServing marks the server as accepting requests (true, once listening)
// or draining (false, as shutdown starts, so that load balancers stop
// sending traffic before connections close). Before the first
// SetServing(true) the server is starting; /readyz names which.
func (p *Probes) SetServing(on bool) {
	switch {
	case on:
		p.state.Store(serving)
	case !p.state.CompareAndSwap(serving, draining):
		// Not serving yet: still starting (or already draining).
	}
}

// AddCheck adds a readiness condition; ok must be cheap and non-blocking,
// since probes run every few seconds. name is shown when it fails.
func (p *Probes) AddCheck(name string, ok func() bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checks = append(p.checks, check{name: name, ok: ok})
}

// AddDetail adds a line "name: value" to the /readyz body that does not
// decide readiness, e.g. the upstream circuit breaker's state: an outage of
// an upstream every replica shares must not take every replica out of
// rotation at once. value must be cheap and non-blocking.
func (p *Probes) AddDetail(name string, value func() string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.details = append(p.details, detail{name: name, value: value})
}

// Ready reports readiness and, when not ready, the failing conditions.
func (p *Probes) Ready() (bool, []string) {
	var failing []string
	switch p.state.Load() {
	case starting:
		failing = append(failing, "starting")
	case draining:
		failing = append(failing, "draining")
	}
	p.mu.RLock()
	checks := slices.Clone(p.checks)
	p.mu.RUnlock()
	for _, c := range checks {
		if !c.ok() {
			failing = append(failing, c.name)
		}
	}
	return len(failing) == 0, failing
}

// Liveness serves /healthz: 200 "ok" whenever the process can answer.
func (p *Probes) Liveness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "ok\n")
	})
}

// Readiness serves /readyz: 200 "ready", or 503 "not ready: " and what
// fails (starting, draining, or the failing checks' names, never their
// details), then a line per AddDetail.
func (p *Probes) Readiness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		ok, failing := p.Ready()
		var b strings.Builder
		if ok {
			b.WriteString("ready\n")
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
			b.WriteString("not ready: " + strings.Join(failing, ", ") + "\n")
		}
		p.mu.RLock()
		details := slices.Clone(p.details)
		p.mu.RUnlock()
		for _, d := range details {
			b.WriteString(d.name + ": " + d.value() + "\n")
		}
		_, _ = io.WriteString(w, b.String())
	})
}
