// Command salesgraph serves a GraphQL API in front of the sales CRM's REST
// API. With no upstream configured it starts in demo mode, on an embedded fake
// upstream (restclient/resttest) with generated data.
//
// Every setting is a flag and an environment variable with the prefix
// SALESGRAPH_; `go run . -help` lists them.
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
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/ide"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/resttest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "salesgraph:", err)
		}
		os.Exit(2)
	}
}

// config is every setting, after flags and environment are read.
type config struct {
	ListenAddr            string
	UpstreamURL           string
	UpstreamAuthorization string
	UpstreamAuthHeader    string
	ForwardHeaders        []string
	UpstreamTimeout       time.Duration
	UpstreamTimeZone      *time.Location
	PageParam             string
	PerPageParam          string
	PerPage               int
	MaxResponseBytes      int64
	BodyBudget            int64
	MaxUpstreamInFlight   int
	MaxOperationInFlight  int
	Introspection         bool
	IDE                   bool
	IDEAssetsDir          string
	LogLevel              slog.Level
	LogFormat             string
	ShutdownTimeout       time.Duration
	DemoLatency           time.Duration
	DemoUsers             int
	PrintSchema           string
	MetricsAddr           string
	TraceResolvers        bool
	Security              graph.Security // limits, CSRF, CORS, persisted operations (server_security.go)

	// Resilience is the operation deadline, retries and circuit breaker
	// (server_resilience.go).
	Resilience resilienceConfig
}

// demo says whether no upstream is configured.
func (c *config) demo() bool { return c.UpstreamURL == "" }

// parseConfig reads flags, falling back to SALESGRAPH_* environment variables,
// falling back to defaults, and validates the result.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("salesgraph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ef := &envFlags{fs: fs, getenv: getenv}
	var (
		listen       = ef.String("listen-addr", "LISTEN_ADDR", ":8080", "address to serve on")
		upstream     = ef.String("upstream-url", "UPSTREAM_URL", "", "base URL of the REST API, e.g. https://crm.example.com; empty starts demo mode")
		upAuth       = ef.String("upstream-authorization", "UPSTREAM_AUTHORIZATION", "", "static credential sent upstream when the caller sends none")
		upAuthHeader = ef.String("upstream-auth-header", "UPSTREAM_AUTH_HEADER", "Authorization", "header that carries the static credential")
		forward      = ef.String("forward-headers", "FORWARD_HEADERS", "Authorization", "comma-separated inbound headers forwarded upstream")
		timeout      = ef.Duration("upstream-timeout", "UPSTREAM_TIMEOUT", 10*time.Second, "timeout of one upstream call")
		zone         = ef.String("upstream-timezone", "UPSTREAM_TIMEZONE", "UTC", "IANA zone of the upstream's naive dates")
		pageParam    = ef.String("upstream-page-param", "UPSTREAM_PAGE_PARAM", "page", "query parameter that selects a page of threads, or of meetings when the upstream pages them")
		perPageParam = ef.String("upstream-per-page-param", "UPSTREAM_PER_PAGE_PARAM", "per_page", "query parameter that sets the threads page size")
		perPage      = ef.Int("upstream-per-page", "UPSTREAM_PER_PAGE", 0, "threads page size to ask for; 0 sends none")
		maxBody      = ef.Int64("upstream-max-response-bytes", "UPSTREAM_MAX_RESPONSE_BYTES", 32<<20, "largest upstream response read")
		bodyBudget   = ef.Int64("upstream-body-budget", "UPSTREAM_BODY_BUDGET", 256<<20, "bytes of upstream responses held in memory at once, all calls together; at least upstream-max-response-bytes")
		maxInFlight  = ef.Int("max-upstream-concurrency", "MAX_UPSTREAM_CONCURRENCY", 256, "upstream calls in flight at once, all operations together")
		maxPerOp     = ef.Int("max-operation-concurrency", "MAX_OPERATION_CONCURRENCY", 64, "upstream calls in flight at once for one operation")
		introspect   = ef.String("introspection", "INTROSPECTION", "", "allow schema introspection: true or false; default true in demo mode only")
		ideOn        = ef.Bool("ide", "IDE", true, "serve the GraphiQL IDE at /")
		ideAssets    = ef.String("ide-assets-dir", "IDE_ASSETS_DIR", "", "serve the IDE's files from this `folder` (ide/assets/node_modules, filled by npm ci --prefix ide/assets) instead of the CDN")
		logLevel     = ef.String("log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
		logFormat    = ef.String("log-format", "LOG_FORMAT", "text", "text or json")
		shutdown     = ef.Duration("shutdown-timeout", "SHUTDOWN_TIMEOUT", 15*time.Second, "how long shutdown waits for operations in flight")
		demoLatency  = ef.Duration("demo-latency", "DEMO_LATENCY", 0, "latency the demo upstream adds to each answer")
		demoUsers    = ef.Int("demo-users", "DEMO_USERS", 50, "how many users the demo upstream has")
		printSchema  = fs.String("print-schema", "", "print the served schema and exit: sdl or introspection (JSON)")
		metricsAddr  = ef.String("metrics-addr", "METRICS_ADDR", "", "serve /metrics (and the probes) on this separate address, e.g. :9090; empty serves /metrics on listen-addr, off serves none")
		traceResolve = ef.Bool("trace-resolvers", "TRACE_RESOLVERS", false, "add a span per resolver call when tracing is on; costly on large lists")
	)
	security := securityFlags(ef)
	resilience := resilienceFlags(ef)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	problems := ef.problems
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c := &config{
		ListenAddr:            *listen,
		UpstreamURL:           strings.TrimRight(strings.TrimSpace(*upstream), "/"),
		UpstreamAuthorization: *upAuth,
		UpstreamAuthHeader:    http.CanonicalHeaderKey(strings.TrimSpace(*upAuthHeader)),
		UpstreamTimeout:       *timeout,
		PageParam:             *pageParam,
		PerPageParam:          *perPageParam,
		PerPage:               *perPage,
		MaxResponseBytes:      *maxBody,
		BodyBudget:            *bodyBudget,
		MaxUpstreamInFlight:   *maxInFlight,
		MaxOperationInFlight:  *maxPerOp,
		IDE:                   *ideOn,
		IDEAssetsDir:          *ideAssets,
		LogFormat:             *logFormat,
		ShutdownTimeout:       *shutdown,
		DemoLatency:           *demoLatency,
		DemoUsers:             *demoUsers,
		PrintSchema:           *printSchema,
		MetricsAddr:           strings.TrimSpace(*metricsAddr),
		TraceResolvers:        *traceResolve,
	}
	for _, h := range strings.Split(*forward, ",") {
		if h = strings.TrimSpace(h); h != "" {
			c.ForwardHeaders = append(c.ForwardHeaders, http.CanonicalHeaderKey(h))
		}
	}
	if c.UpstreamURL != "" {
		u, err := url.Parse(c.UpstreamURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, "upstream-url must be an absolute http or https URL")
		}
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		problems = append(problems, fmt.Sprintf("upstream-timezone %q is not a known IANA zone", *zone))
	}
	c.UpstreamTimeZone = loc
	if c.UpstreamTimeout <= 0 {
		problems = append(problems, "upstream-timeout must be positive")
	}
	if c.PerPage < 0 || c.PerPage > 1000 {
		problems = append(problems, "upstream-per-page must be between 0 and 1000")
	}
	if c.PageParam == "" || c.PerPageParam == "" {
		problems = append(problems, "upstream page parameter names must not be empty")
	}
	if c.MaxResponseBytes < 1024 {
		problems = append(problems, "upstream-max-response-bytes must be at least 1024")
	}
	if c.BodyBudget < c.MaxResponseBytes {
		problems = append(problems, "upstream-body-budget must be at least upstream-max-response-bytes")
	}
	if c.MaxUpstreamInFlight <= 0 || c.MaxOperationInFlight <= 0 {
		problems = append(problems, "concurrency limits must be positive")
	}
	if c.UpstreamAuthHeader == "" {
		problems = append(problems, "upstream-auth-header must not be empty")
	}
	if c.PrintSchema != "" && c.PrintSchema != "sdl" && c.PrintSchema != "introspection" {
		problems = append(problems, "print-schema must be sdl or introspection")
	}
	if c.DemoUsers <= 0 || c.DemoUsers > 100000 {
		problems = append(problems, "demo-users must be between 1 and 100000")
	}
	switch strings.ToLower(*introspect) {
	case "":
		c.Introspection = c.demo()
	case "true", "1", "yes", "on":
		c.Introspection = true
	case "false", "0", "no", "off":
	default:
		problems = append(problems, "introspection must be true or false")
	}
	if err := c.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		problems = append(problems, "log-level must be debug, info, warn or error")
	}
	if c.MetricsAddr != "" && c.MetricsAddr != metricsOff {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			problems = append(problems, "metrics-addr must be host:port, empty or off")
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		problems = append(problems, "log-format must be text or json")
	}
	if len(problems) == 0 {
		var more []string
		c.Security, more = security(c)
		problems = append(problems, more...)
	}
	var more []string
	c.Resilience, more = resilience()
	problems = append(problems, more...)
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return c, nil
}

// run serves until ctx ends. ready, when not nil, receives the address the
// server listens on once it accepts connections (end-to-end tests use it).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.PrintSchema != "" {
		return printSchema(stdout, cfg.PrintSchema)
	}
	log := newLogger(cfg, stderr)
	tel, err := newTelemetry(ctx, cfg, getenv, stdout, log)
	if err != nil {
		return err
	}
	defer tel.shutdown(log)

	upstreamURL := cfg.UpstreamURL
	staticAuth := cfg.UpstreamAuthorization
	if cfg.demo() {
		fake := resttest.NewServer(resttest.WithUsers(cfg.DemoUsers), resttest.WithLatency(cfg.DemoLatency, cfg.DemoLatency/2))
		defer fake.Close()
		upstreamURL = fake.URL
		if staticAuth == "" {
			staticAuth = resttest.DefaultToken
		}
		log.Info("demo mode: no upstream configured (SALESGRAPH_UPSTREAM_URL), serving an embedded fake upstream with generated data",
			"users", cfg.DemoUsers, "demoCredential", "Authorization: "+resttest.DefaultToken)
	}

	opts := []restclient.Option{
		restclient.WithTimeout(cfg.UpstreamTimeout),
		restclient.WithLocation(cfg.UpstreamTimeZone),
		restclient.WithPageParam(cfg.PageParam),
		restclient.WithPerPage(cfg.PerPageParam, cfg.PerPage),
		restclient.WithMaxResponseBytes(cfg.MaxResponseBytes),
		restclient.WithBodyBudget(cfg.BodyBudget),
	}
	if staticAuth != "" {
		opts = append(opts, restclient.WithCredentials(http.Header{cfg.UpstreamAuthHeader: {staticAuth}}))
	}
	opts = append(opts, cfg.Resilience.clientOptions()...)
	opts = append(opts, tel.clientOptions(cfg.UpstreamTimeout)...)
	client, err := restclient.New(upstreamURL, opts...)
	if err != nil {
		return fmt.Errorf("upstream client: %w", err)
	}
	tel.watchUpstream(client.Ready) // /readyz fails while the circuit is open

	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(graph.Options{
		Upstream:                client,
		ForwardHeaders:          cfg.ForwardHeaders,
		MaxUpstreamConcurrency:  cfg.MaxUpstreamInFlight,
		MaxOperationConcurrency: cfg.MaxOperationInFlight,
		OperationTimeout:        cfg.Resilience.OperationTimeout,
		Introspection:           cfg.Introspection,
		Security:                cfg.Security,
		Logger:                  log,
		Metrics:                 tel.metrics,
		Tracing:                 tel.tracing,
	}))
	tel.mount(mux, cfg) // /readyz and /metrics
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	if cfg.IDE {
		demoHeaders := map[string]string{}
		if cfg.demo() {
			demoHeaders["Authorization"] = resttest.DefaultToken
		}
		if err := ide.Mount(mux, ide.Options{Endpoint: "/graphql", Headers: demoHeaders, AssetsDir: cfg.IDEAssetsDir}); err != nil {
			return err
		}
	}

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()
	log.Info("salesgraph listening", "addr", addr, "graphql", "http://"+displayHost(addr)+"/graphql",
		"ide", ideURL(cfg, addr), "upstream", redactURL(upstreamURL), "demo", cfg.demo(),
		"staticCredential", staticAuth != "", "forwardHeaders", cfg.ForwardHeaders, "introspection", cfg.Introspection)
	tel.probes.SetServing(true)
	if ready != nil {
		ready <- addr
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	tel.probes.SetServing(false) // /readyz fails while connections drain
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	// observe.WithTraceIDs: lines logged inside a traced operation name its trace.
	if cfg.LogFormat == "json" {
		return slog.New(observe.WithTraceIDs(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(observe.WithTraceIDs(slog.NewTextHandler(w, opts)))
}

func ideURL(cfg *config, addr string) string {
	if !cfg.IDE {
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

// redactURL drops user info and query from a URL before it is logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
