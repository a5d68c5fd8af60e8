// Package config is salesgraph's configuration, owned in one place: every
// setting as a flag and a SALESGRAPH_* environment variable, its default,
// every check of the values given (all problems reported together, in the
// flags' own words), and the start-up summary, which prints every setting
// with the secrets redacted. server.go loads a Config and wires the parts
// with it; no other package reads flags or SALESGRAPH_* variables. The
// packages it configures state the rules on their Options, by field; config
// says what they find in the words of its flags.
//
// Adding a setting is a change in this package plus one wiring line:
//
//  1. a field in the group it belongs to (Config's groups, below);
//  2. one line in register binding a flag to the field, with its default
//     and usage; its variable is SALESGRAPH_ and the flag's name in upper
//     snake case;
//  3. its rule, if a value can be wrong, in validate (validate.go), naming
//     the flag; a rule the configured package states itself (graph's and
//     gqlhttp's Options.Problems, restclient's RetryPolicy and
//     BreakerSettings Problems, respcache.KeyerFor) is not stated again:
//     config says its problems in the flag's words (graphFlags,
//     resilienceFlags);
//  4. in server.go, the line that hands the field to what it configures.
//
// The summary lists the field by itself (summary.go), and
// TestConfigurationTableIsTheFlags fails until the operators' settings
// table, docs/operators/configuration.md, has its row (-update-docs writes
// it). For example, a budget on upstream bodies is a
// BodyBudget int64 in Upstream; e.int64(&c.Upstream.BodyBudget,
// "upstream-body-budget", 256<<20, "…") in register; a check in validate
// that it is at least Upstream.MaxResponseBytes; and
// restclient.WithBodyBudget(cfg.Upstream.BodyBudget) in server.go.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/redisconn"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
)

// Config is every setting, after flags, environment and defaults, checked.
type Config struct {
	Server        Server
	Upstream      Upstream
	GraphQL       GraphQL
	Security      graph.Security // request limits, CSRF, CORS, persisted operations, response caps
	Resilience    Resilience
	Replicas      Replicas
	Observability Observability
	IDE           IDE
	Shutdown      Shutdown
	Demo          Demo
	// PrintSchema, when set, is the format (sdl or introspection) in which
	// to print the served schema instead of serving.
	PrintSchema string
	// PrintVersion asks for the version instead of serving; the rest of
	// the configuration is then neither read nor checked.
	PrintVersion bool

	flags *flag.FlagSet // every flag, for the documented table (TestConfigurationTableIsTheFlags)
	raw   raw
}

// Server is the API listener.
type Server struct {
	ListenAddr string
	// MaxConnections caps the connections open on ListenAddr; server.go
	// lowers it further to fit the open-file limit.
	MaxConnections int
	// MemoryLimit is the Go runtime's soft memory limit in bytes; 0 leaves
	// it to GOMEMLIMIT or derives it from the budgets (package memlimit).
	MemoryLimit int64
}

// Upstream is the REST API and how it is called.
type Upstream struct {
	URL string // base URL without /api/v1; empty is demo mode
	// Authorization is the static credential, sent in AuthHeader when the
	// caller sends none.
	Authorization  Secret
	AuthHeader     string   // canonical
	ForwardHeaders []string // inbound headers sent upstream, canonical
	Timeout        time.Duration
	TimeZone       *time.Location // of the upstream's naive dates
	PageParam      string
	PerPageParam   string
	PerPage        int // 0 sends none
	// MaxResponseBytes caps one upstream response read.
	MaxResponseBytes int64
	// BodyBudget bounds the upstream bodies held in memory at once, all
	// calls together, the records decoded from them included.
	BodyBudget int64
	// MaxConcurrency caps the upstream calls in flight, all operations
	// together; MaxOperationConcurrency those of one operation.
	MaxConcurrency          int
	MaxOperationConcurrency int
}

// GraphQL is what the /graphql endpoint answers, beyond its limits.
type GraphQL struct {
	Introspection bool
	// CursorSecret authenticates pagination cursors; empty is a random key
	// per process.
	CursorSecret Secret
	// AllowedOperations is the allow-list's path; Security.AllowedOperations
	// holds what was read from it.
	AllowedOperations string
}

// Resilience is how the facade treats a misbehaving upstream: the
// operation deadline, retries and the circuit breaker.
type Resilience struct {
	OperationTimeout time.Duration
	Retry            restclient.RetryPolicy // MaxAttempts 1: off
	Breaker          restclient.BreakerSettings
	BreakerOn        bool
	// Hedge says when a slow upstream call gets a second identical
	// request (restclient.WithHedging); HedgeOn false sends none.
	Hedge   restclient.HedgePolicy
	HedgeOn bool
}

// Replicas is what replicas share through Redis, and what each holds when
// there is none: the upstream response cache and the upstream rate limit.
type Replicas struct {
	// RedisURL is a redis:// or rediss:// URL; empty shares nothing.
	RedisURL string
	// RedisTimeout bounds every Redis call of every part (dial, read,
	// write, pool wait, and the call as a whole), so that a slow Redis
	// costs each request at most this once.
	RedisTimeout time.Duration
	// CacheTTL is how long an upstream answer is fresh; 0 turns the cache
	// off.
	CacheTTL time.Duration
	// CacheStaleIfError is how long past CacheTTL an answer may still be
	// served when the upstream fails.
	CacheStaleIfError time.Duration
	// CacheKeySecret keys the cache's HMAC; replicas sharing a Redis must
	// share it. Empty without Redis: random per process.
	CacheKeySecret Secret
	// CacheMaxBytes bounds the cache's in-process tier.
	CacheMaxBytes int64
	// CacheIgnoreNoStore caches answers the upstream marks no-store or
	// no-cache for CacheTTL anyway (respcache.Options.IgnoreNoStore).
	CacheIgnoreNoStore bool
	// UpstreamRateLimit is calls per second to the upstream, across every
	// replica when Redis is configured; 0 is no limit.
	UpstreamRateLimit float64
	// Count is the most replicas that run: while Redis is down each keeps
	// to UpstreamRateLimit / Count.
	Count int
}

// Observability is logs, metrics and tracing. Tracing itself is set by the
// standard OTEL_* variables, which observe.TracingFromEnv reads; the three
// OTel fields are kept for the summary only.
type Observability struct {
	LogLevel       slog.Level
	LogFormat      string // text or json
	MetricsAddr    string // "": /metrics on the API listener; MetricsOff: none
	TraceResolvers bool
	Pprof          bool     // net/http/pprof on the metrics listener only
	OTLPEndpoint   string   // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT
	OTLPHeaders    []string // the names in OTEL_EXPORTER_OTLP_(TRACES_)HEADERS; their values are keys
	TracesSampler  string   // OTEL_TRACES_SAMPLER
}

// MetricsOff is the -metrics-addr value that serves no /metrics at all.
const MetricsOff = "off"

// IDE is the GraphiQL page at /.
type IDE struct {
	Enabled bool
	Assets  string // embedded or cdn
}

// Shutdown is the drain on SIGTERM (server.go's drain).
type Shutdown struct {
	Timeout time.Duration
	Delay   time.Duration
}

// Demo is the embedded fake upstream served when no upstream is configured.
type Demo struct {
	Latency time.Duration
	// TailShare of the demo upstream's answers come TailLatency later
	// (fakeapi.WithTail), so that hedging can be seen at work.
	TailShare   float64
	TailLatency time.Duration
	Users       int
	// UpstreamOnly serves the fake upstream alone on Server.ListenAddr,
	// for several replicas on one machine to share (fakeapi's
	// Server.ListenAndServe).
	UpstreamOnly bool
}

// raw holds what flags give as text or in another unit than Config's
// fields; interpret (validate.go) turns it into them.
type raw struct {
	forwardHeaders, csrfHeaders, corsOrigins string
	timeZone, introspection, suggestions     string
	logLevel                                 string
	retries, pathFailures                    int
	apq                                      bool
}

// DemoMode says whether no upstream is configured.
func (c *Config) DemoMode() bool { return c.Upstream.URL == "" }

// Load reads flags (args), falling back to SALESGRAPH_* environment
// variables (getenv), falling back to defaults, and checks the result,
// returning every problem in one error. environ is the whole environment
// ("NAME=value" entries), in which any SALESGRAPH_* variable that is not a
// setting is a problem. -help prints the flags to stdout, since they were
// asked for, and returns flag.ErrHelp.
func Load(args []string, getenv func(string) string, environ []string, stdout io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("salesgraph", flag.ContinueOnError)
	// The flag package prints the whole usage after a parse error, which
	// scrolls the error itself away; the error is returned instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	c := &Config{flags: fs}
	ef := &envFlags{fs: fs, getenv: getenv}
	c.register(ef)
	if err := fs.Parse(args); err != nil {
		return nil, flagError(fs, err, stdout)
	}
	if c.PrintVersion {
		// Whatever else is set: the version is what one asks for when
		// something is wrong.
		return c, nil
	}
	// A misspelt variable first: the other problems may follow from it.
	problems := append(ef.unknown(environ), ef.problems...)
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	problems = append(problems, c.interpret(getenv)...)
	problems = append(problems, c.validate()...)
	if len(problems) == 0 {
		problems = c.checkAllowedOperations()
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return c, nil
}

// DefaultMaxConnections is far more connections than one replica serves
// well, and far fewer than the open-file limits of the usual container
// runtimes (1048576 soft, or 65536 at least on most Linux systems).
const DefaultMaxConnections = 10000

// register defines every flag, bound to its field (or to raw), with its
// default and usage. The order is the tie-break of "did you mean".
func (c *Config) register(e *envFlags) {
	rp, bs, hp := restclient.DefaultRetryPolicy(), restclient.DefaultBreakerSettings(), restclient.DefaultHedgePolicy()
	r := &c.raw

	e.string(&c.Server.ListenAddr, "listen-addr", ":8080", "address to serve on")
	e.string(&c.Upstream.URL, "upstream-url", "", "base URL of the REST API without its /api/v1, e.g. https://crm.example.com; empty starts demo mode")
	e.secret(&c.Upstream.Authorization, "upstream-authorization", "static credential sent upstream when the caller sends none of forward-headers")
	e.string(&c.Upstream.AuthHeader, "upstream-auth-header", "Authorization", "header that carries the static credential")
	e.string(&r.forwardHeaders, "forward-headers", strings.Join(graph.DefaultForwardHeaders, ","), "comma-separated inbound headers forwarded upstream")
	e.duration(&c.Upstream.Timeout, "upstream-timeout", restclient.DefaultTimeout, "timeout of one upstream call")
	e.string(&r.timeZone, "upstream-timezone", "UTC", "IANA zone of the upstream's naive dates")
	e.string(&c.Upstream.PageParam, "upstream-page-param", restclient.DefaultPageParam, "query parameter that selects a page of threads, or of meetings when the upstream pages them")
	e.string(&c.Upstream.PerPageParam, "upstream-per-page-param", restclient.DefaultPerPageParam, "query parameter that sets the threads page size")
	e.int(&c.Upstream.PerPage, "upstream-per-page", 0, "threads page size to ask for; 0 sends none")
	e.int64(&c.Upstream.MaxResponseBytes, "upstream-max-response-bytes", restclient.DefaultMaxResponseBytes, "largest upstream response read")
	e.int64(&c.Upstream.BodyBudget, "upstream-body-budget", restclient.DefaultBodyBudget, "bytes of upstream responses held in memory at once, all calls together: being read, or decoded into records an operation still uses; at least upstream-max-response-bytes")
	e.int(&c.Upstream.MaxConcurrency, "max-upstream-concurrency", graph.DefaultMaxUpstreamConcurrency, "upstream calls in flight at once, all operations together")
	e.int(&c.Upstream.MaxOperationConcurrency, "max-operation-concurrency", graph.DefaultMaxOperationConcurrency, "upstream calls in flight at once for one operation")
	e.string(&r.introspection, "introspection", "", "allow schema introspection: true or false; default true in demo mode only")
	e.bool(&c.IDE.Enabled, "ide", true, "serve the GraphiQL IDE at /")
	e.string(&c.IDE.Assets, "ide-assets", "embedded", "where the IDE's browser files come from: embedded (served by salesgraph, works offline) or cdn (jsDelivr, pinned with Subresource Integrity)")
	e.string(&r.logLevel, "log-level", "info", "debug, info, warn or error")
	e.string(&c.Observability.LogFormat, "log-format", "text", "text or json")
	e.duration(&c.Shutdown.Timeout, "shutdown-timeout", 15*time.Second, "on SIGTERM, how long operations in flight may take to finish (after shutdown-delay) before they are cancelled")
	e.duration(&c.Shutdown.Delay, "shutdown-delay", 5*time.Second, "on SIGTERM, how long /readyz fails while requests are still served, for load balancers to notice, before new connections are refused")
	e.int(&c.Server.MaxConnections, "max-connections", DefaultMaxConnections, "most connections open on listen-addr; idle ones are closed near it, new ones refused with 503 at it; lowered to fit the open-file limit")
	e.int64(&c.Server.MemoryLimit, "memory-limit", 0, "soft limit of the Go runtime's memory in bytes, near which the garbage collector works harder; 0: GOMEMLIMIT if set, else upstream-body-budget + max-response-memory (+ cache-max-bytes with the cache on) + 256 MiB, at most 90% of the container's memory limit")
	e.duration(&c.Demo.Latency, "demo-latency", 0, "latency the demo upstream adds to each answer")
	e.float64(&c.Demo.TailShare, "demo-tail", 0, "share of the demo upstream's answers, 0 to 1, that come demo-tail-latency later: a latency tail, for hedging to cut")
	e.duration(&c.Demo.TailLatency, "demo-tail-latency", 300*time.Millisecond, "how much later the demo upstream's tail answers come")
	e.int(&c.Demo.Users, "demo-users", 50, "how many users the demo upstream has")
	e.bool(&c.Demo.UpstreamOnly, "demo-upstream-only", false, "serve only the demo upstream (the fake REST API, with demo-users and demo-latency) on listen-addr, for replicas to share as their upstream-url")
	// One-off actions rather than settings: no variables.
	e.fs.StringVar(&c.PrintSchema, "print-schema", "", "print the served schema and exit: sdl or introspection (JSON)")
	e.fs.BoolVar(&c.PrintVersion, "version", false, "print the version and exit: module version, VCS revision and time, Go version (as go_build_info's labels)")
	e.string(&c.Observability.MetricsAddr, "metrics-addr", "", "serve /metrics (and the probes) on this separate address, e.g. :9090; empty serves /metrics on listen-addr, off serves none")
	e.bool(&c.Observability.Pprof, "pprof", false, "serve Go's /debug/pprof/ profiles on metrics-addr (never on listen-addr); needs metrics-addr")
	e.bool(&c.Observability.TraceResolvers, "trace-resolvers", false, "add a span per resolver call when tracing is on; costly on large lists")
	e.secret(&c.GraphQL.CursorSecret, "cursor-secret", "key that authenticates pagination cursors, at least 32 bytes; replicas must share it to accept each other's cursors; empty: random per process")

	// Security: limits, CSRF, CORS, persisted operations.
	s := &c.Security
	e.int64(&s.MaxRequestBytes, "max-request-bytes", gqlhttp.DefaultMaxRequestBytes, "largest request body accepted; larger ones get 413")
	e.int(&s.MaxTokens, "max-tokens", gqlhttp.DefaultMaxTokens, "most lexical tokens in a document")
	e.int(&s.MaxDepth, "max-depth", gqlhttp.DefaultMaxDepth, "deepest field nesting, fields in fragments counted")
	e.int(&s.MaxAliases, "max-aliases", gqlhttp.DefaultMaxAliases, "most aliased fields in an operation")
	e.int(&s.MaxRootFields, "max-root-fields", gqlhttp.DefaultMaxRootFields, "most root fields in an operation")
	e.int(&s.MaxFields, "max-fields", gqlhttp.DefaultMaxFields, "most field selections in a document, fragments counted wherever spread")
	e.int(&s.MaxComplexity, "max-complexity", graph.DefaultMaxComplexity, "most fields a response is estimated to hold, lists multiplied by their page size")
	e.int(&s.MaxUpstreamCalls, "max-upstream-calls", graph.DefaultMaxUpstreamCalls, "most upstream calls an operation (or a batch) is estimated to make")
	e.int(&s.ThreadLookupPages, "thread-lookup-pages", graph.DefaultThreadLookupPages, "threads pages the estimate counts for one thread looked up by id")
	e.int(&s.MaxErrors, "max-errors", gqlhttp.DefaultMaxErrors, "most errors in one response")
	e.int(&s.MaxResponseBytes, "max-response-bytes", gqlhttp.DefaultMaxResponseBytes, "largest response sent; a larger one becomes a RESPONSE_TOO_LARGE error")
	e.int64(&s.MaxResponseMemory, "max-response-memory", gqlhttp.DefaultMaxResponseMemory, "bytes of responses being built at once, all operations together; one that does not fit gets RESPONSE_MEMORY_BUDGET_EXCEEDED; at least max-response-bytes")
	e.bool(&s.Batching, "batching", false, "accept a JSON array of operations in one POST")
	e.int(&s.MaxBatchSize, "max-batch-size", gqlhttp.DefaultMaxBatchSize, "most operations in one batch")
	e.string(&r.csrfHeaders, "csrf-headers", strings.Join(gqlhttp.DefaultCSRFHeaders, ","), "comma-separated headers that let a GET without Content-Type: application/json pass CSRF prevention")
	e.string(&r.corsOrigins, "cors-origins", "", "comma-separated origins allowed to read responses cross-origin, or *; demo mode adds the IDE's own")
	e.string(&r.suggestions, "suggestions", "", `"Did you mean" in validation errors: true or false; default true in demo mode only`)
	e.bool(&r.apq, "apq", true, "automatic persisted queries")
	e.int(&s.APQCacheSize, "apq-cache-size", gqlhttp.DefaultAPQCacheSize, "how many persisted queries APQ remembers")
	e.bool(&s.ETags, "etags", true, "a strong ETag on answers to GET and QUERY, bound to the forwarded headers (keyed with cache-key-secret when set), and 304 to an If-None-Match that names it; such answers are Cache-Control: private, no-cache (browsers keep them, privately, to revalidate) instead of private, no-store")
	e.bool(&s.ServerTiming, "server-timing", true, "a Server-Timing header on every answer: total, app and upstream time, upstream calls made, shared and cached; it reveals upstream timing and cache use to callers")
	e.string(&c.GraphQL.AllowedOperations, "allowed-operations", "", "allow-list mode: only the operations in this `path` run (a directory of .graphql files, or an Apollo persisted-query manifest)")

	// Resilience: the operation deadline, retries, the circuit breaker.
	rs := &c.Resilience
	e.duration(&rs.OperationTimeout, "operation-timeout", graph.DefaultOperationTimeout, "deadline of one request's operations, upstream calls and waits included")
	e.int(&r.retries, "upstream-retries", rp.MaxAttempts-1, "retries of a failed upstream call (connection errors, 429, 502-504), 0 to 9; 0 turns retries off")
	e.duration(&rs.Retry.BaseDelay, "upstream-retry-base-delay", rp.BaseDelay, "backoff before the first retry; doubles each retry, with full jitter")
	e.duration(&rs.Retry.MaxDelay, "upstream-retry-max-delay", rp.MaxDelay, "longest backoff between retries")
	e.duration(&rs.Retry.MaxRetryAfter, "upstream-retry-after-max", rp.MaxRetryAfter, "longest Retry-After honoured; a longer one is passed on to the caller unretried")
	e.float64(&rs.Retry.Budget, "upstream-retry-budget", rp.Budget, "retries allowed as a share of recent upstream calls, above 0 up to 1")
	e.duration(&rs.Retry.BudgetWindow, "upstream-retry-budget-window", rp.BudgetWindow, "how far back the retry budget counts calls")
	e.int(&rs.Retry.MinRetries, "upstream-retry-min", rp.MinRetries, "retries allowed per budget window whatever the share")
	e.bool(&rs.BreakerOn, "upstream-breaker", true, "circuit breaker in front of the upstream")
	e.float64(&rs.Breaker.FailureRatio, "upstream-breaker-failure-ratio", bs.FailureRatio, "share of failed upstream calls in the window that opens the breaker, above 0 up to 1")
	e.int(&rs.Breaker.MinRequests, "upstream-breaker-min-requests", bs.MinRequests, "upstream calls the window must hold before the breaker may open")
	e.duration(&rs.Breaker.Window, "upstream-breaker-window", bs.Window, "rolling window over which the breaker counts upstream calls")
	e.duration(&rs.Breaker.OpenTimeout, "upstream-breaker-open-timeout", bs.OpenTimeout, "how long the breaker stays open before it lets probes through")
	e.int(&rs.Breaker.HalfOpenProbes, "upstream-breaker-probes", bs.HalfOpenProbes, "probe calls a half-open breaker lets through; all must succeed to close it")
	e.int(&r.pathFailures, "upstream-breaker-path-failures", bs.PathFailures, "failures in a row of one upstream path (one user's list) for one caller that eject the path: its calls fail at once for a while; 0 never ejects")
	e.duration(&rs.Breaker.PathEjection, "upstream-breaker-path-ejection", bs.PathEjection, "how long a path is first ejected; each ejection that follows without a success in between lasts as much longer")
	e.duration(&rs.Breaker.MaxPathEjection, "upstream-breaker-max-path-ejection", bs.MaxPathEjection, "longest ejection of a path")
	e.bool(&rs.HedgeOn, "upstream-hedge", true, "hedge slow upstream calls: send a second identical request once a call has waited longer than most of its endpoint's recent ones, and use the first answer")
	e.float64(&rs.Hedge.Percentile, "upstream-hedge-percentile", hp.Percentile, "percentile of an endpoint's recent latencies after which a call is hedged, above 0 below 1")
	e.duration(&rs.Hedge.MinDelay, "upstream-hedge-min-delay", hp.MinDelay, "shortest wait before a hedge; equal to upstream-hedge-max-delay, a fixed delay")
	e.duration(&rs.Hedge.MaxDelay, "upstream-hedge-max-delay", hp.MaxDelay, "longest wait before a hedge")
	e.float64(&rs.Hedge.Budget, "upstream-hedge-budget", hp.Budget, "hedges allowed as a share of recent upstream calls, above 0 up to 1")
	e.duration(&rs.Hedge.BudgetWindow, "upstream-hedge-budget-window", hp.BudgetWindow, "how far back the hedge budget counts calls")
	e.int(&rs.Hedge.MinHedges, "upstream-hedge-min", hp.MinHedges, "hedges allowed per budget window whatever the share")
	e.int(&rs.Hedge.MaxHedges, "upstream-hedge-max", hp.MaxHedges, "hedges per call at most, 1 to 4: the next is sent one delay after the last while none has answered")

	// Replicas: what they share through Redis.
	rc := &c.Replicas
	e.string(&rc.RedisURL, "redis-url", "", "redis:// or rediss:// URL of the Redis the replicas share the upstream cache and rate limit through; empty: each replica alone, in process")
	e.duration(&rc.RedisTimeout, "redis-timeout", redisconn.DefaultTimeout, "bound on each Redis call (connect, read, write, the call as a whole); a call past it counts as a Redis failure and the replica works alone for a second")
	e.duration(&rc.CacheTTL, "cache-ttl", 0, "how long an upstream answer is served from the cache (shortened by the upstream's Cache-Control max-age); 0 turns the cache off")
	e.duration(&rc.CacheStaleIfError, "cache-stale-if-error", 0, "how long past cache-ttl a cached answer is still served, marked stale, when the upstream fails (5xx, timeout, unreachable, circuit open)")
	e.secret(&rc.CacheKeySecret, "cache-key-secret", "key of the cache's HMAC keys, at least 32 bytes; required with cache-ttl and redis-url, and shared by the replicas; empty without redis-url: random per process")
	e.int64(&rc.CacheMaxBytes, "cache-max-bytes", respcache.DefaultMaxBytes, "bytes of upstream answers the cache holds in this process")
	e.bool(&rc.CacheIgnoreNoStore, "cache-ignore-upstream-no-store", false, "cache answers the upstream marks Cache-Control no-store or no-cache for cache-ttl anyway, as if unmarked; risky if the upstream means it (see docs/operators/replicas.md)")
	e.float64(&rc.UpstreamRateLimit, "upstream-rate-limit", 0, "upstream calls per second, retries included, across every replica when redis-url is set; 0 is no limit")
	e.int(&rc.Count, "replicas", 1, "most replicas that run: while Redis is down each keeps to upstream-rate-limit / replicas")
}
