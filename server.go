// Command salesgraph serves a GraphQL API in front of the sales CRM's REST
// API. With no upstream configured it starts in demo mode, on an embedded fake
// upstream (restclient/fakeapi) with generated data.
//
// Every setting is a flag and an environment variable with the prefix
// SALESGRAPH_ (package config); `go run . -help` lists them. This file is
// the wiring: load the configuration, build the parts from it, serve, drain
// (and hangup.go keeps SIGHUP from ending the process). The parts are their
// packages' to build: memlimit (the runtime's memory limit), telemetry
// (metrics, tracing, probes), replicas (what replicas share through Redis),
// restclient, graph, ide, and the demo upstream, restclient/fakeapi.
// layout_test.go holds package main to 400 lines of code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/salesgraph/salesgraph/config"
	"github.com/salesgraph/salesgraph/connlimit"
	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/ide"
	"github.com/salesgraph/salesgraph/memlimit"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/replicas"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
	"github.com/salesgraph/salesgraph/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal drains (see run); a second one ends the process at
	// once, as if no handler were installed.
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -help printed the flags, as asked
		}
		fmt.Fprintln(os.Stderr, "salesgraph:", err)
		os.Exit(2)
	}
}

// run serves until ctx ends (SIGTERM or interrupt, in main), then drains:
// see drain. getenv reads one variable and environ lists the whole
// environment (os.Getenv and os.Environ() in main). ready, when not nil,
// receives the address the server listens on once it accepts connections
// (end-to-end tests use it).
func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stdout, stderr io.Writer, ready chan<- string) error {
	cfg, err := config.Load(args, getenv, environ, stdout)
	if err != nil {
		return err
	}
	if cfg.PrintVersion {
		_, err := fmt.Fprintln(stdout, observe.ReadBuild())
		return err
	}
	if cfg.PrintSchema != "" {
		return graph.PrintSchema(stdout, cfg.PrintSchema)
	}
	h, err := observe.NewLogHandler(stderr, cfg.Observability.LogFormat, cfg.Observability.LogLevel)
	if err != nil {
		return err
	}
	log := slog.New(h)
	defer memlimit.Set(memoryOptions(cfg), getenv, os.DirFS("/"), log)()
	defer ignoreHangup(log)()
	demo := []fakeapi.Option{fakeapi.WithUsers(cfg.Demo.Users), fakeapi.WithLatency(cfg.Demo.Latency, cfg.Demo.Latency/2),
		fakeapi.WithTail(cfg.Demo.TailShare, cfg.Demo.TailLatency)}
	if cfg.Demo.UpstreamOnly {
		fake := fakeapi.New(demo...)
		defer fake.Close()
		return fake.ListenAndServe(ctx, fakeapi.ServeOptions{Addr: cfg.Server.ListenAddr, ShutdownTimeout: cfg.Shutdown.Timeout, Logger: log,
			Ready: func(addr string) {
				log.Info("demo upstream listening", "addr", addr, "url", "http://"+displayHost(addr), "users", cfg.Demo.Users,
					"demoCredential", "Authorization: "+fakeapi.DefaultToken)
				if ready != nil {
					ready <- addr
				}
			}})
	}
	tel, err := telemetry.New(ctx, telemetryOptions(cfg.Observability), getenv, stdout, log)
	if err != nil {
		return err
	}
	defer tel.Shutdown(log)
	tel.Metrics.ResponseMemoryLimit(cfg.Security.MaxResponseMemory)
	log.LogAttrs(ctx, slog.LevelInfo, "configuration", append(cfg.Summary(), slog.String("tracing", tel.Tracing.Exporter()))...)

	upstreamURL := cfg.Upstream.URL
	staticAuth := string(cfg.Upstream.Authorization)
	if cfg.DemoMode() {
		fake := fakeapi.NewServer(demo...)
		defer fake.Close()
		upstreamURL = fake.URL
		if staticAuth == "" {
			staticAuth = fakeapi.DefaultToken
		}
		log.Info("demo mode: no upstream configured (SALESGRAPH_UPSTREAM_URL), serving an embedded fake upstream with generated data",
			"users", cfg.Demo.Users, "demoCredential", "Authorization: "+fakeapi.DefaultToken)
	}
	shared, err := replicas.New(replicaOptions(cfg.Replicas), cfg.Security.APQCacheSize, tel.Metrics, log)
	if err != nil {
		return err
	}
	defer shared.Close()
	opts := append(upstreamOptions(cfg, staticAuth), tel.ClientOptions(cfg.Upstream.Timeout)...)
	client, err := restclient.New(upstreamURL, append(opts, shared.Client...)...)
	if err != nil {
		return fmt.Errorf("upstream client: %w", err)
	}
	tel.WatchUpstream(client) // the breaker shown in /readyz (readiness does not follow it), ejections in /metrics

	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(graph.Options{
		Upstream:                client,
		MaxUpstreamConcurrency:  cfg.Upstream.MaxConcurrency,
		MaxOperationConcurrency: cfg.Upstream.MaxOperationConcurrency,
		OperationTimeout:        cfg.Resilience.OperationTimeout,
		CursorSecret:            []byte(cfg.GraphQL.CursorSecret),
		TimeZone:                cfg.Upstream.TimeZone,
		Security:                withAPQStore(cfg.Security, shared.APQ),
		Logger:                  log,
		Metrics:                 tel.Metrics,
		Tracing:                 tel.Tracing,
	}))
	tel.Mount(mux) // /readyz, and /metrics unless it has a listener of its own or is off
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	if cfg.IDE.Enabled {
		if err := mountIDE(mux, cfg); err != nil {
			return err
		}
	}

	// Requests get a context of their own, not ctx: the signal that ends
	// ctx starts the drain, and operations in flight must finish with
	// their data, not fail. drain cancels them only once the shutdown
	// timeout has passed.
	requests, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	// Each upstream call in flight holds two descriptors in demo mode,
	// whose upstream is in-process.
	maxConns := cfg.Server.MaxConnections
	if fit, limit, lowered := connlimit.FitOpenFileLimit(maxConns, 2*cfg.Upstream.MaxConcurrency); lowered {
		log.Warn("max-connections lowered to fit the open-file limit", "maxConnections", maxConns, "openFileLimit", limit, "now", fit)
		maxConns = fit
	}
	ln, err := net.Listen("tcp", cfg.Server.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	limited := connlimit.New(ln, maxConns, log)
	limited.Register(tel.Metrics.Registry())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		// Above the 60 s idle timeout of the usual load balancers, so that
		// they, not this server, close the connections they pool (a server
		// closing first races their next request into a 502). Near the
		// connection cap, idle connections are reclaimed sooner.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return requests },
		ConnState:      limited.ConnState,
	}
	addr := ln.Addr().String()
	log.Info("salesgraph listening", "addr", addr, "graphql", "http://"+displayHost(addr)+"/graphql",
		"ide", ideURL(cfg, addr), "metrics", tel.AdminAddr(), "upstream", config.RedactURL(upstreamURL), "demo", cfg.DemoMode(),
		"staticCredential", staticAuth != "", "forwardHeaders", cfg.Upstream.ForwardHeaders, "introspection", cfg.GraphQL.Introspection,
		"maxConnections", maxConns)
	tel.Probes.SetServing(true)
	if ready != nil {
		ready <- addr
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limited) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return drain(srv, errc, cancelRequests, tel.Probes, cfg.Shutdown, log)
}

// upstreamOptions are the restclient options the configuration makes;
// staticAuth is the credential sent when the caller sends none (demo
// mode's, when configured none).
func upstreamOptions(cfg *config.Config, staticAuth string) []restclient.Option {
	u, r := cfg.Upstream, cfg.Resilience
	opts := []restclient.Option{
		restclient.WithTimeout(u.Timeout),
		restclient.WithLocation(u.TimeZone),
		restclient.WithPageParam(u.PageParam),
		restclient.WithPerPage(u.PerPageParam, u.PerPage),
		restclient.WithMaxResponseBytes(u.MaxResponseBytes),
		restclient.WithBodyBudget(u.BodyBudget),
		restclient.WithRetry(r.Retry),
	}
	if staticAuth != "" {
		opts = append(opts, restclient.WithCredentials(http.Header{u.AuthHeader: {staticAuth}}))
	}
	if r.HedgeOn {
		opts = append(opts, restclient.WithHedging(r.Hedge))
	}
	if r.BreakerOn {
		return append(opts, restclient.WithCircuitBreaker(r.Breaker))
	}
	return append(opts, restclient.WithoutCircuitBreaker())
}

// telemetryOptions are the observability settings: /metrics on the API's
// listener (-metrics-addr empty), on a listener of its own, or nowhere
// (off).
func telemetryOptions(o config.Observability) telemetry.Options {
	t := telemetry.Options{MetricsOnAPI: o.MetricsAddr == "", Pprof: o.Pprof, TraceResolvers: o.TraceResolvers}
	if o.MetricsAddr != config.MetricsOff {
		t.MetricsAddr = o.MetricsAddr
	}
	return t
}

// replicaOptions are config.Replicas as package replicas takes them, field
// for field (TestReplicaOptionsCarryEveryField).
func replicaOptions(r config.Replicas) replicas.Options {
	return replicas.Options{RedisURL: r.RedisURL, RedisTimeout: r.RedisTimeout, CacheTTL: r.CacheTTL, CacheStaleIfError: r.CacheStaleIfError,
		CacheKeySecret: string(r.CacheKeySecret), CacheMaxBytes: r.CacheMaxBytes, CacheIgnoreNoStore: r.CacheIgnoreNoStore,
		UpstreamRateLimit: r.UpstreamRateLimit, Count: r.Count}
}

// memoryOptions are the settings the runtime's memory limit is chosen from.
func memoryOptions(cfg *config.Config) memlimit.Options {
	o := memlimit.Options{MemoryLimit: cfg.Server.MemoryLimit, BodyBudget: cfg.Upstream.BodyBudget, ResponseMemory: cfg.Security.MaxResponseMemory}
	if cfg.Replicas.CacheTTL > 0 {
		o.CacheBytes = cfg.Replicas.CacheMaxBytes
	}
	return o
}

// mountIDE serves the IDE at /, with the demo credential filled in in
// demo mode.
func mountIDE(mux *http.ServeMux, cfg *config.Config) error {
	demoHeaders := map[string]string{}
	if cfg.DemoMode() {
		demoHeaders["Authorization"] = fakeapi.DefaultToken
	}
	opts := ide.Options{Endpoint: "/graphql", Headers: demoHeaders, CDN: cfg.IDE.Assets == "cdn"}
	if !cfg.GraphQL.Introspection {
		opts.IntrospectionOff = "SALESGRAPH_INTROSPECTION=true (or -introspection=true)"
	}
	return ide.Mount(mux, opts)
}

// cancelGrace is how long operations cancelled at the end of the shutdown
// timeout have to send their (CANCELLED) answers before connections close.
const cancelGrace = 2 * time.Second

// drain shuts the server down the way a load balancer needs it to:
//
//  1. /readyz fails at once (on the metrics listener too), while requests
//     are still served, and keep-alive ends, so that clients' next requests
//     open connections elsewhere;
//  2. after shutdown-delay, time for the load balancer to see the probe
//     fail, the listener closes: new connections are refused;
//  3. operations in flight have shutdown-timeout to finish with their data;
//  4. those still running then are cancelled, and have cancelGrace to
//     answer so before their connections close.
//
// Deployments should give the process more than shutdown-delay +
// shutdown-timeout + cancelGrace to stop (terminationGracePeriodSeconds,
// 30 s by default in Kubernetes, against 5 + 15 + 2 by default here).
func drain(srv *http.Server, errc <-chan error, cancelRequests context.CancelFunc, probes *observe.Probes, cfg config.Shutdown, log *slog.Logger) error {
	probes.SetServing(false)
	srv.SetKeepAlivesEnabled(false)
	log.Info("shutting down: readiness fails while requests are still served", "delay", cfg.Delay, "timeout", cfg.Timeout)
	if cfg.Delay > 0 {
		t := time.NewTimer(cfg.Delay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("shutting down: new connections refused, waiting for operations in flight", "timeout", cfg.Timeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	switch err := srv.Shutdown(sctx); {
	case err == nil:
		log.Info("shut down: every operation finished")
		return nil
	case !errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("shutdown: %w", err)
	}
	cancelRequests()
	gctx, gcancel := context.WithTimeout(context.Background(), cancelGrace)
	defer gcancel()
	if err := srv.Shutdown(gctx); err != nil {
		_ = srv.Close()
	}
	return fmt.Errorf("shutdown: operations still in flight after shutdown-timeout (%v) were cancelled", cfg.Timeout)
}

func ideURL(cfg *config.Config, addr string) string {
	if !cfg.IDE.Enabled {
		return "off"
	}
	return "http://" + displayHost(addr) + "/"
}

// displayHost turns a wildcard listen address into one a browser can open.
func displayHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// withAPQStore is s with persisted queries kept in store, when there is one.
func withAPQStore(s graph.Security, store gqlhttp.APQStore) graph.Security {
	if store != nil {
		s.APQStore = store
	}
	return s
}
