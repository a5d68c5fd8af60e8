// Package telemetry is the server's observability, wired from its
// settings (Options, which package main takes from the configuration): the
// metrics registry, tracing (OTEL_* variables), the
// liveness and readiness probes, the optional listener that serves them
// apart from the API (with the runtime's profiles when asked), and the
// instrumentation of the upstream client. The toolkit it wires is observe's,
// which knows nothing of salesgraph's parts; this package is what connects
// them, for package main.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
)

// Telemetry is the server's observability: the metrics registry, tracing,
// the probes, and the optional listener that serves them apart from the API.
type Telemetry struct {
	Metrics *observe.Metrics
	Tracing *observe.Tracing
	Probes  *observe.Probes
	admin   *http.Server // nil unless -metrics-addr names an address
	adminLn net.Listener
	opts    Options
	log     *slog.Logger
}

// Options are the observability settings Telemetry is built from.
type Options struct {
	// MetricsAddr is the address of a listener of its own that serves
	// /metrics and both probes apart from the API; "" is none.
	MetricsAddr string
	// MetricsOnAPI serves /metrics on the API's mux too (Mount).
	MetricsOnAPI   bool
	Pprof          bool // the runtime's profiles, on the MetricsAddr listener only
	TraceResolvers bool // a span per resolver, not only per operation and upstream call
}

// New sets up metrics and tracing (OTEL_* read through getenv)
// and binds the metrics listener if one is configured.
func New(ctx context.Context, o Options, getenv func(string) string, console io.Writer, log *slog.Logger) (*Telemetry, error) {
	t := &Telemetry{Metrics: observe.NewMetrics(), Probes: observe.NewProbes(), opts: o, log: log}
	tr, err := observe.TracingFromEnv(ctx, getenv, console, log, observe.ReadBuild().Version, observe.WithResolverSpans(o.TraceResolvers))
	if err != nil {
		return nil, err
	}
	t.Tracing = tr

	if o.MetricsAddr != "" {
		ln, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			_ = tr.Shutdown(ctx)
			return nil, fmt.Errorf("metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		t.mountAdmin(mux)
		if o.Pprof {
			mountPprof(mux)
		}
		t.adminLn = ln
		t.admin = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func() {
			if err := t.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener stopped", "error", err.Error())
			}
		}()
	}
	return t, nil
}

// upstreamCircuit names the client's circuit breaker in metrics.
const upstreamCircuit = "upstream"

// ClientOptions instruments the upstream client: metrics per HTTP attempt,
// per retry decision, per hedge, per call answered by an identical one in flight, per
// breaker state change and per path ejection, a log line per breaker state
// change and per ejection (their refusals are counted, not logged), and a
// transport (restclient's own, tuned) that makes a span per attempt and
// sends the trace context upstream.
func (t *Telemetry) ClientOptions(timeout time.Duration) []restclient.Option {
	t.Metrics.CircuitState(upstreamCircuit, restclient.BreakerClosed.String()) // breakers start closed
	return []restclient.Option{
		restclient.WithObserver(func(ci restclient.CallInfo) {
			t.Metrics.UpstreamCall(ci.Endpoint, ci.HTTPStatus, ci.Class.Result(), ci.Duration)
			t.logCall(ci)
		}),
		restclient.WithRetryObserver(func(ev restclient.RetryEvent) {
			if ev.Denied == "" {
				t.Metrics.RetryAttempt(ev.Endpoint)
			} else {
				t.Metrics.RetryDenied(ev.Endpoint, string(ev.Denied))
			}
		}),
		restclient.WithShareObserver(t.Metrics.UpstreamShared),
		restclient.WithHedgeObserver(func(e restclient.HedgeEvent) { t.Metrics.UpstreamHedge(e.Endpoint, string(e.Result), e.Delay) }),
		restclient.WithBreakerObserver(func(from, to restclient.BreakerState) {
			t.Metrics.CircuitState(upstreamCircuit, to.String())
			level := slog.LevelInfo
			if to == restclient.BreakerOpen {
				level = slog.LevelWarn
			}
			t.log.LogAttrs(context.Background(), level, "upstream circuit breaker", slog.String("from", from.String()), slog.String("to", to.String()))
		}),
		restclient.WithEjectionObserver(func(e restclient.PathEjection) {
			t.Metrics.PathEjected(e.Endpoint)
			t.log.LogAttrs(context.Background(), slog.LevelWarn, "upstream path ejected",
				slog.String("endpoint", e.Endpoint),
				slog.String("path", e.Path),
				slog.Int("failures", e.Failures),
				slog.Int("ejections", e.Ejections),
				slog.Duration("for", e.Duration),
				slog.String("error", e.Err.Error()),
			)
		}),
		restclient.WithHTTPClient(&http.Client{Transport: observe.NewTransport(restclient.NewTransport(timeout), t.Tracing, restclient.ErrorType)}),
	}
}

// logCall logs one HTTP attempt upstream at debug, the level for following
// a request through the facade: paths hold user ids, and at info a busy
// server would log every call. Failures are logged at warn by graph,
// with the request id, once per call rather than per attempt.
func (t *Telemetry) logCall(ci restclient.CallInfo) {
	ctx := context.Background()
	if !t.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("endpoint", ci.Endpoint),
		slog.String("path", ci.Path),
		slog.Int("httpStatus", ci.HTTPStatus),
		slog.Int("attempt", ci.Attempt),
		slog.Duration("duration", ci.Duration),
	}
	if ci.Err != nil {
		attrs = append(attrs, slog.String("error", ci.Err.Error()))
	}
	t.log.LogAttrs(ctx, slog.LevelDebug, "upstream call", attrs...)
}

// WatchUpstream shows the client's circuit breaker state in the /readyz
// body without letting it decide readiness: the upstream is shared by every
// replica, so an outage that failed readiness would take the whole fleet out
// of rotation at once, although each replica still answers (stale cached
// answers, and fast UPSTREAM_CIRCUIT_OPEN errors otherwise). Readiness is
// the process's own ability to serve: started and not draining. The paths
// ejected now are a gauge.
func (t *Telemetry) WatchUpstream(client *restclient.Client) {
	t.Probes.AddDetail("upstream circuit", func() string { return client.BreakerState().String() })
	t.Metrics.WatchEjectedPaths(client.EjectedPaths)
	t.Metrics.WatchBodyMemory(func() observe.BodyMemory {
		s := client.BodyMemory()
		return observe.BodyMemory{Limit: s.Limit, InUse: s.InUse, Waiting: s.Waiting}
	})
}

// Mount adds /readyz to the API's mux, and /metrics with MetricsOnAPI.
// /healthz is the API server's own.
func (t *Telemetry) Mount(mux *http.ServeMux) {
	mux.Handle("GET /readyz", t.Probes.Readiness())
	if t.opts.MetricsOnAPI {
		mux.Handle("GET /metrics", t.Metrics.Handler())
	}
}

// mountAdmin serves the metrics and both probes on the separate listener,
// so that probes and scrapes can use a port that is not exposed publicly.
func (t *Telemetry) mountAdmin(mux *http.ServeMux) {
	mux.Handle("GET /metrics", t.Metrics.Handler())
	mux.Handle("GET /healthz", t.Probes.Liveness())
	mux.Handle("GET /readyz", t.Probes.Readiness())
}

// mountPprof serves the runtime's profiles, as net/http/pprof's package
// init would on http.DefaultServeMux, which salesgraph never serves.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// AdminAddr is the metrics listener's address, or "" when there is none.
func (t *Telemetry) AdminAddr() string {
	if t.adminLn == nil {
		return ""
	}
	return t.adminLn.Addr().String()
}

// Shutdown flushes spans and stops the metrics listener; after the API
// server's own shutdown, so that the last operations' spans and scrapes are
// not lost.
func (t *Telemetry) Shutdown(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.Tracing.Shutdown(ctx); err != nil {
		log.Warn("tracing shutdown", "error", err.Error())
	}
	if t.admin != nil {
		_ = t.admin.Shutdown(ctx)
	}
}
