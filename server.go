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

	"github.com/agnivade/levenshtein"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/ide"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/resttest"
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
	IDEAssets             string // embedded or cdn
	LogLevel              slog.Level
	LogFormat             string
	ShutdownTimeout       time.Duration
	ShutdownDelay         time.Duration
	MaxConnections        int
	DemoLatency           time.Duration
	DemoUsers             int
	PrintSchema           string
	MetricsAddr           string
	TraceResolvers        bool
	CursorSecret          string
	Security              graph.Security // limits, CSRF, CORS, persisted operations (server_security.go)

	// Resilience is the operation deadline, retries and circuit breaker
	// (server_resilience.go).
	Resilience resilienceConfig

	flags *flag.FlagSet // every flag, for the README's table (TestREADMEConfigurationTable)
}

// demo says whether no upstream is configured.
func (c *config) demo() bool { return c.UpstreamURL == "" }

// parseConfig is loadConfig for tests that set a few variables through
// getenv and have no environment to check for unknown ones.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	return loadConfig(args, getenv, nil, stderr)
}

// loadConfig reads flags, falling back to SALESGRAPH_* environment variables,
// falling back to defaults, and validates the result. environ is the whole
// environment ("NAME=value" entries), in which any SALESGRAPH_* variable
// that is not a setting stops the start. -help prints the flags to stderr.
func loadConfig(args []string, getenv func(string) string, environ []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("salesgraph", flag.ContinueOnError)
	// The flag package prints the whole usage after a parse error, which
	// scrolls the error itself away; the error is returned instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	ef := &envFlags{fs: fs, getenv: getenv}
	var (
		listen       = ef.String("listen-addr", "LISTEN_ADDR", ":8080", "address to serve on")
		upstream     = ef.String("upstream-url", "UPSTREAM_URL", "", "base URL of the REST API without its /api/v1, e.g. https://crm.example.com; empty starts demo mode")
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
		ideAssets    = ef.String("ide-assets", "IDE_ASSETS", "embedded", "where the IDE's browser files come from: embedded (served by salesgraph, works offline) or cdn (jsDelivr, pinned with Subresource Integrity)")
		logLevel     = ef.String("log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
		logFormat    = ef.String("log-format", "LOG_FORMAT", "text", "text or json")
		shutdown     = ef.Duration("shutdown-timeout", "SHUTDOWN_TIMEOUT", 15*time.Second, "on SIGTERM, how long operations in flight may take to finish (after shutdown-delay) before they are cancelled")
		shutDelay    = ef.Duration("shutdown-delay", "SHUTDOWN_DELAY", 5*time.Second, "on SIGTERM, how long /readyz fails while requests are still served, for load balancers to notice, before new connections are refused")
		maxConns     = ef.Int("max-connections", "MAX_CONNECTIONS", defaultMaxConnections, "most connections open on listen-addr; idle ones are closed near it, new ones refused with 503 at it; lowered to fit the open-file limit")
		demoLatency  = ef.Duration("demo-latency", "DEMO_LATENCY", 0, "latency the demo upstream adds to each answer")
		demoUsers    = ef.Int("demo-users", "DEMO_USERS", 50, "how many users the demo upstream has")
		printSchema  = fs.String("print-schema", "", "print the served schema and exit: sdl or introspection (JSON)")
		metricsAddr  = ef.String("metrics-addr", "METRICS_ADDR", "", "serve /metrics (and the probes) on this separate address, e.g. :9090; empty serves /metrics on listen-addr, off serves none")
		traceResolve = ef.Bool("trace-resolvers", "TRACE_RESOLVERS", false, "add a span per resolver call when tracing is on; costly on large lists")
		cursorSecret = ef.String("cursor-secret", "CURSOR_SECRET", "", "key that authenticates pagination cursors, at least 32 bytes; replicas must share it to accept each other's cursors; empty: random per process")
	)
	security := securityFlags(ef)
	resilience := resilienceFlags(ef)
	if err := fs.Parse(args); err != nil {
		return nil, flagError(fs, err, stderr)
	}
	// A misspelt variable first: the other problems may follow from it.
	problems := append(ef.unknown(environ), ef.problems...)
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c := &config{
		flags:                 fs,
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
		IDEAssets:             *ideAssets,
		LogFormat:             *logFormat,
		ShutdownTimeout:       *shutdown,
		ShutdownDelay:         *shutDelay,
		MaxConnections:        *maxConns,
		DemoLatency:           *demoLatency,
		DemoUsers:             *demoUsers,
		PrintSchema:           *printSchema,
		MetricsAddr:           strings.TrimSpace(*metricsAddr),
		TraceResolvers:        *traceResolve,
		CursorSecret:          *cursorSecret,
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
		} else if i := apiPrefixAt(u.Path); i >= 0 {
			// Refused rather than stripped: a base URL is copied from
			// somewhere, and one that already holds /api/v1 (or a whole
			// endpoint) says the copy went wrong; guessing which part was
			// meant could send calls somewhere else without a word.
			u.Path, u.RawPath = u.Path[:i], ""
			problems = append(problems, fmt.Sprintf("upstream-url must be the API's base URL, without %s: salesgraph adds %s/users/… itself; use %s",
				apiPrefix, apiPrefix, redactURL(u.String())))
		}
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		problems = append(problems, fmt.Sprintf("upstream-timezone %q is not a known IANA zone", *zone))
	}
	c.UpstreamTimeZone = loc
	if c.ShutdownTimeout <= 0 || c.ShutdownDelay < 0 {
		problems = append(problems, "shutdown-timeout must be positive and shutdown-delay not negative")
	}
	if c.MaxConnections < 1 {
		problems = append(problems, "max-connections must be positive")
	}
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
	if n := len(c.CursorSecret); n > 0 && n < graph.MinCursorSecret {
		problems = append(problems, fmt.Sprintf("cursor-secret must be at least %d bytes, got %d", graph.MinCursorSecret, n))
	}
	if c.IDEAssets != "embedded" && c.IDEAssets != "cdn" {
		problems = append(problems, "ide-assets must be embedded or cdn")
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

// apiPrefix is the path prefix of the REST API's endpoints (restclient's
// Endpoint* constants), which restclient appends to the base URL.
const apiPrefix = "/api/v1"

// apiPrefixAt is where the path segments api/v1 start in path, in any case,
// or -1: "/api/v1", "/crm/api/v1/" and "/api/v1/users/7/meetings" all hold
// them, "/api/v10" does not.
func apiPrefixAt(path string) int {
	lower := strings.ToLower(path)
	for i := 0; ; {
		j := strings.Index(lower[i:], apiPrefix)
		if j < 0 {
			return -1
		}
		end := i + j + len(apiPrefix)
		if end == len(lower) || lower[end] == '/' {
			return i + j
		}
		i = end
	}
}

// flagError turns a parse error into one line that names the mistake (and
// the closest flag, for an unknown one) and where the flags are listed; for
// -help it prints the flags and returns flag.ErrHelp.
func flagError(fs *flag.FlagSet, err error, stderr io.Writer) error {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "Usage of salesgraph (each flag's SALESGRAPH_* variable in parentheses):")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return err
	}
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		best, bestDist := "", -1
		fs.VisitAll(func(f *flag.Flag) {
			if d := levenshtein.ComputeDistance(strings.TrimLeft(name, "-"), f.Name); bestDist < 0 || d < bestDist {
				best, bestDist = f.Name, d
			}
		})
		return fmt.Errorf("%w (did you mean -%s? salesgraph -help lists the flags)", err, best)
	}
	return fmt.Errorf("%w (salesgraph -help lists the flags)", err)
}

// defaultMaxConnections is far more connections than one replica serves
// well, and far fewer than the open-file limits of the usual container
// runtimes (1048576 soft, or 65536 at least on most Linux systems).
const defaultMaxConnections = 10000

// fitConnections lowers max so that the connections, the upstream calls
// (two descriptors each in demo mode, whose upstream is in-process) and
// a margin for the rest fit under the open-file limit.
func fitConnections(max, upstream, fileLimit int) int {
	fit := fileLimit - 2*upstream - 64
	if fit < fileLimit/2 {
		fit = fileLimit / 2
	}
	return min(max, fit)
}

// run serves until ctx ends (SIGTERM or interrupt, in main), then drains:
// see drain. getenv reads one variable and environ lists the whole
// environment (os.Getenv and os.Environ() in main). ready, when not nil,
// receives the address the server listens on once it accepts connections
// (end-to-end tests use it).
func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stdout, stderr io.Writer, ready chan<- string) error {
	cfg, err := loadConfig(args, getenv, environ, stderr)
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
	sec := cfg.Security
	sec.ForwardHeaders, sec.Introspection = cfg.ForwardHeaders, cfg.Introspection
	mux.Handle("/graphql", graph.NewHandler(graph.Options{
		Upstream:                client,
		MaxUpstreamConcurrency:  cfg.MaxUpstreamInFlight,
		MaxOperationConcurrency: cfg.MaxOperationInFlight,
		OperationTimeout:        cfg.Resilience.OperationTimeout,
		CursorSecret:            []byte(cfg.CursorSecret),
		TimeZone:                cfg.UpstreamTimeZone,
		Security:                sec,
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
		opts := ide.Options{Endpoint: "/graphql", Headers: demoHeaders, CDN: cfg.IDEAssets == "cdn"}
		if !cfg.Introspection {
			opts.IntrospectionOff = "SALESGRAPH_INTROSPECTION=true (or -introspection=true)"
		}
		if err := ide.Mount(mux, opts); err != nil {
			return err
		}
	}

	// Requests get a context of their own, not ctx: the signal that ends
	// ctx starts the drain, and operations in flight must finish with
	// their data, not fail. drain cancels them only once the shutdown
	// timeout has passed.
	requests, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	if n, ok := openFileLimit(); ok {
		if fit := fitConnections(cfg.MaxConnections, cfg.MaxUpstreamInFlight, n); fit < cfg.MaxConnections {
			log.Warn("max-connections lowered to fit the open-file limit", "maxConnections", cfg.MaxConnections, "openFileLimit", n, "now", fit)
			cfg.MaxConnections = fit
		}
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	limited := limitConnections(ln, cfg.MaxConnections, log)
	limited.register(tel.metrics.Registry())
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
		ConnState:      limited.connState,
	}
	addr := ln.Addr().String()
	log.Info("salesgraph listening", "addr", addr, "graphql", "http://"+displayHost(addr)+"/graphql",
		"ide", ideURL(cfg, addr), "metrics", tel.adminAddr(), "upstream", redactURL(upstreamURL), "demo", cfg.demo(),
		"staticCredential", staticAuth != "", "forwardHeaders", cfg.ForwardHeaders, "introspection", cfg.Introspection,
		"maxConnections", cfg.MaxConnections)
	tel.probes.SetServing(true)
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
	return drain(srv, errc, cancelRequests, tel.probes, cfg, log)
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
func drain(srv *http.Server, errc <-chan error, cancelRequests context.CancelFunc, probes *observe.Probes, cfg *config, log *slog.Logger) error {
	probes.SetServing(false)
	srv.SetKeepAlivesEnabled(false)
	log.Info("shutting down: readiness fails while requests are still served", "delay", cfg.ShutdownDelay, "timeout", cfg.ShutdownTimeout)
	if cfg.ShutdownDelay > 0 {
		t := time.NewTimer(cfg.ShutdownDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("shutting down: new connections refused, waiting for operations in flight", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
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
	return fmt.Errorf("shutdown: operations still in flight after shutdown-timeout (%v) were cancelled", cfg.ShutdownTimeout)
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
