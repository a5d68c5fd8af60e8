package config

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/redisconn"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient"
)

// interpret turns what flags gave as text (raw) into Config's fields,
// reporting what does not parse, and applies the defaults that depend on
// other settings: demo mode's, and the page size the estimate assumes.
func (c *Config) interpret(getenv func(string) string) []string {
	var problems []string
	r := &c.raw
	c.Upstream.URL = strings.TrimRight(strings.TrimSpace(c.Upstream.URL), "/")
	c.Upstream.AuthHeader = http.CanonicalHeaderKey(strings.TrimSpace(c.Upstream.AuthHeader))
	c.Upstream.ForwardHeaders = canonicalList(r.forwardHeaders)
	if len(c.Upstream.ForwardHeaders) == 0 {
		// What graph.Options forwards when given none, said here so that
		// the summary shows it.
		c.Upstream.ForwardHeaders = graph.DefaultForwardHeaders
	}
	loc, err := time.LoadLocation(r.timeZone)
	if err != nil {
		problems = append(problems, fmt.Sprintf("upstream-timezone %q is not a known IANA zone", r.timeZone))
	}
	c.Upstream.TimeZone = loc
	c.Observability.MetricsAddr = strings.TrimSpace(c.Observability.MetricsAddr)
	if err := c.Observability.LogLevel.UnmarshalText([]byte(r.logLevel)); err != nil {
		problems = append(problems, "log-level must be debug, info, warn or error")
	}

	var ok bool
	if c.GraphQL.Introspection, ok = boolOrDemo(r.introspection, c.DemoMode()); !ok {
		problems = append(problems, "introspection must be true or false")
	}
	s := &c.Security
	if s.Suggestions, ok = boolOrDemo(r.suggestions, c.DemoMode()); !ok {
		problems = append(problems, "suggestions must be true or false")
	}
	s.CSRFHeaders = canonicalList(r.csrfHeaders)
	if len(s.CSRFHeaders) == 0 {
		s.CSRFHeaders = gqlhttp.DefaultCSRFHeaders // what graph uses when given none
	}
	s.AllowedOrigins = splitList(r.corsOrigins)
	if c.DemoMode() && len(s.AllowedOrigins) == 0 {
		s.AllowedOrigins = ideOrigins(c.Server.ListenAddr)
	}
	s.DisableAPQ = !r.apq
	// Replicas sharing the cache key give one answer the same ETag.
	s.ETagSecret = []byte(c.Replicas.CacheKeySecret)
	// The endpoint's own copies, so that Security is what graph is given.
	s.ForwardHeaders = c.Upstream.ForwardHeaders
	s.Introspection = c.GraphQL.Introspection
	// The estimate assumes the page size asked of the upstream, or the
	// API's default when none is asked.
	s.UpstreamPageSize = c.Upstream.PerPage
	if s.UpstreamPageSize <= 0 {
		s.UpstreamPageSize = graph.DefaultUpstreamPageSize
	}
	if c.GraphQL.AllowedOperations != "" {
		ops, err := gqlhttp.LoadOperations(c.GraphQL.AllowedOperations)
		if err != nil {
			problems = append(problems, "allowed-operations: "+err.Error())
		}
		s.AllowedOperations = ops
	}

	c.Resilience.Retry.MaxAttempts = r.retries + 1
	c.Resilience.Breaker.PathFailures = r.pathFailures
	if r.pathFailures == 0 {
		c.Resilience.Breaker.PathFailures = -1 // restclient's "never"; its 0 is the default
	}

	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	c.Observability.OTLPEndpoint = endpoint
	c.Observability.OTLPHeaders = headerNames(getenv("OTEL_EXPORTER_OTLP_HEADERS"), getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS"))
	c.Observability.TracesSampler = getenv("OTEL_TRACES_SAMPLER")
	return problems
}

// validate is every rule on the settings, each problem naming its flags.
// Zero means "the default" in the option structs of graph and restclient;
// on the command line a zero limit is a mistake worth saying so.
func (c *Config) validate() []string {
	var problems []string
	check := func(ok bool, msg string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(msg, args...))
		}
	}

	// The server and its shutdown.
	check(c.Server.MaxConnections >= 1, "max-connections must be positive")
	check(c.Shutdown.Timeout > 0 && c.Shutdown.Delay >= 0, "shutdown-timeout must be positive and shutdown-delay not negative")
	if a := c.Observability.MetricsAddr; a != "" && a != MetricsOff {
		_, _, err := net.SplitHostPort(a)
		check(err == nil, "metrics-addr must be host:port, empty or off")
	} else {
		// Profiles show request contents and cost CPU: they are never served
		// on the public listener.
		check(!c.Observability.Pprof, "pprof needs metrics-addr: profiles are served on the metrics listener only")
	}
	check(c.PrintSchema == "" || c.PrintSchema == "sdl" || c.PrintSchema == "introspection", "print-schema must be sdl or introspection")
	// A limit of a few bytes or megabytes (a unit left out) would keep the
	// collector running without pause.
	check(c.Server.MemoryLimit == 0 || c.Server.MemoryLimit >= 64<<20, "memory-limit must be 0 or at least 67108864 (64 MiB), in bytes")
	check(c.Demo.Users > 0 && c.Demo.Users <= 100000, "demo-users must be between 1 and 100000")
	check(c.Demo.TailShare >= 0 && c.Demo.TailShare <= 1, "demo-tail must be a share between 0 and 1, got %v", c.Demo.TailShare)
	check(c.Demo.TailLatency >= 0, "demo-tail-latency must not be negative")
	check(!c.Demo.UpstreamOnly || c.Upstream.URL == "", "demo-upstream-only serves the demo upstream itself: upstream-url must be empty")
	check(c.IDE.Assets == "embedded" || c.IDE.Assets == "cdn", "ide-assets must be embedded or cdn")
	check(c.Observability.LogFormat == "text" || c.Observability.LogFormat == "json", "log-format must be text or json")

	// The upstream.
	u := &c.Upstream
	if u.URL != "" {
		problems = append(problems, checkUpstreamURL(u.URL)...)
	}
	check(u.Timeout > 0, "upstream-timeout must be positive")
	check(u.PerPage >= 0 && u.PerPage <= 1000, "upstream-per-page must be between 0 and 1000")
	check(u.PageParam != "" && u.PerPageParam != "", "upstream page parameter names must not be empty")
	check(u.MaxResponseBytes >= 1024, "upstream-max-response-bytes must be at least 1024")
	check(u.BodyBudget >= u.MaxResponseBytes, "upstream-body-budget must be at least upstream-max-response-bytes")
	check(u.MaxConcurrency > 0 && u.MaxOperationConcurrency > 0, "concurrency limits must be positive")
	check(u.AuthHeader != "", "upstream-auth-header must not be empty")

	// What the replicas share.
	rc := &c.Replicas
	if rc.RedisURL != "" {
		if _, err := redisconn.Parse(rc.RedisURL, redisconn.Options{}); err != nil {
			problems = append(problems, "redis-url: "+strings.TrimPrefix(err.Error(), "redis URL: "))
		}
	}
	check(rc.RedisTimeout > 0, "redis-timeout must be positive")
	check(rc.CacheTTL >= 0 && rc.CacheStaleIfError >= 0, "cache-ttl and cache-stale-if-error must not be negative")
	check(rc.CacheStaleIfError == 0 || rc.CacheTTL > 0, "cache-stale-if-error needs cache-ttl")
	check(rc.CacheMaxBytes >= 1<<20, "cache-max-bytes must be at least 1048576")
	// respcache's rule, as replicas.New applies it: a
	// cache is shared through Redis with cache-ttl and redis-url.
	var se *respcache.SecretError
	if _, err := respcache.KeyerFor([]byte(rc.CacheKeySecret), rc.CacheTTL > 0 && rc.RedisURL != ""); errors.As(err, &se) {
		problems = append(problems, "cache-key-secret "+se.Issue)
	}
	check(rc.UpstreamRateLimit >= 0 && rc.UpstreamRateLimit <= 1e6, "upstream-rate-limit must be between 0 and 1000000 calls per second")
	check(rc.Count >= 1, "replicas must be positive")

	// The GraphQL endpoint and its security: graph's and gqlhttp's own
	// rules, said with our flags; the allow-list waits for
	// checkAllowedOperations.
	problems = append(problems, c.graphProblems(false)...)

	// Resilience.
	rs := &c.Resilience
	check(rs.OperationTimeout > 0, "operation-timeout must be positive")
	// The flag counts retries, restclient attempts: its rule on
	// MaxAttempts, in the flag's unit.
	check(c.raw.retries >= 0 && c.raw.retries <= restclient.MaxAttempts-1, "upstream-retries must be between 0 and %d", restclient.MaxAttempts-1)
	check(c.raw.pathFailures >= 0, "upstream-breaker-path-failures must not be negative")
	for _, p := range append(rs.Retry.Problems(), rs.Breaker.Problems()...) {
		if p.Field == "MaxAttempts" {
			continue // upstream-retries, above
		}
		problems = append(problems, inFlagWords(p.Field, p.Issue, resilienceFlags))
	}
	for _, p := range rs.Hedge.Problems() {
		problems = append(problems, inFlagWords(p.Field, p.Issue, hedgeFlags))
	}
	return problems
}

// hedgeFlags names the flag of each restclient.HedgePolicy field: apart
// from resilienceFlags, whose Budget is the retry budget's.
var hedgeFlags = map[string]string{
	"Percentile":   "upstream-hedge-percentile",
	"MinDelay":     "upstream-hedge-min-delay",
	"MaxDelay":     "upstream-hedge-max-delay",
	"Budget":       "upstream-hedge-budget",
	"BudgetWindow": "upstream-hedge-budget-window",
	"MinHedges":    "upstream-hedge-min",
	"MaxHedges":    "upstream-hedge-max",
}

// resilienceFlags names the flag of each restclient.RetryPolicy and
// BreakerSettings field whose rules restclient states in their Problems.
var resilienceFlags = map[string]string{
	"BaseDelay":       "upstream-retry-base-delay",
	"MaxDelay":        "upstream-retry-max-delay",
	"MaxRetryAfter":   "upstream-retry-after-max",
	"Budget":          "upstream-retry-budget",
	"BudgetWindow":    "upstream-retry-budget-window",
	"MinRetries":      "upstream-retry-min",
	"FailureRatio":    "upstream-breaker-failure-ratio",
	"MinRequests":     "upstream-breaker-min-requests",
	"Window":          "upstream-breaker-window",
	"OpenTimeout":     "upstream-breaker-open-timeout",
	"HalfOpenProbes":  "upstream-breaker-probes",
	"PathEjection":    "upstream-breaker-path-ejection",
	"MaxPathEjection": "upstream-breaker-max-path-ejection",
}

// checkAllowedOperations checks every operation of the allow-list against
// the schema and the limits, as a request's would be, so that a bad entry
// stops the start instead of failing later for some client. It runs only
// once every other setting is valid: the limits it applies must be.
func (c *Config) checkAllowedOperations() []string {
	if len(c.Security.AllowedOperations) == 0 {
		return nil
	}
	return c.graphProblems(true)
}

// graphFlags names the flag of each graph.Options field (the Security
// fields, gqlhttp.Options's included) whose rules graph states, in
// graph.Options.Problems: config says those problems in the words of its
// flags rather than state the rules again.
var graphFlags = map[string]string{
	"MaxRequestBytes":   "max-request-bytes",
	"MaxTokens":         "max-tokens",
	"MaxDepth":          "max-depth",
	"MaxAliases":        "max-aliases",
	"MaxRootFields":     "max-root-fields",
	"MaxFields":         "max-fields",
	"MaxErrors":         "max-errors",
	"MaxResponseBytes":  "max-response-bytes",
	"MaxResponseMemory": "max-response-memory",
	"MaxBatchSize":      "max-batch-size",
	"APQCacheSize":      "apq-cache-size",
	"CSRFHeaders":       "csrf-headers",
	"AllowedOrigins":    "cors-origins",
	"ForwardHeaders":    "forward-headers",
	"AllowedOperations": "allowed-operations",
	"MaxComplexity":     "max-complexity",
	"MaxUpstreamCalls":  "max-upstream-calls",
	"UpstreamPageSize":  "upstream-per-page",
	"ThreadLookupPages": "thread-lookup-pages",
	"CursorSecret":      "cursor-secret",
}

// graphProblems is what graph.Options.Problems finds wrong with the
// settings config hands graph, in the words of our flags: the allow-list's
// problems alone when allowList is set, else every other.
func (c *Config) graphProblems(allowList bool) []string {
	o := graph.Options{Security: c.Security, CursorSecret: []byte(c.GraphQL.CursorSecret)}
	if !allowList {
		o.AllowedOperations = nil
	}
	var out []string
	for _, p := range o.Problems() {
		if (p.Field == "AllowedOperations") != allowList {
			continue
		}
		out = append(out, inFlagWords(p.Field, p.Issue, graphFlags))
	}
	return out
}

// inFlagWords is a package's problem with field (issue) in the words of
// its flag, flags naming the flag of each field: "max-depth must be
// positive, got 0", "cors-origins: … is not an origin", and any other
// field the issue names by its flag too.
func inFlagWords(field, issue string, flags map[string]string) string {
	p := gqlhttp.Problem{Field: field, Issue: issue}
	if flag, ok := flags[field]; ok {
		p.Field = flag
	}
	p.Issue = fieldNames.ReplaceAllStringFunc(p.Issue, func(name string) string {
		if flag, ok := flags[name]; ok {
			return flag
		}
		return name
	})
	return p.String()
}

// fieldNames are the words of an issue that may name another field ("must
// be at least MaxResponseBytes").
var fieldNames = regexp.MustCompile(`\b[A-Z][A-Za-z]+\b`)

// apiPrefix is the path prefix of the REST API's endpoints (restclient's
// Endpoint* constants), which restclient appends to the base URL.
const apiPrefix = "/api/v1"

func checkUpstreamURL(s string) []string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return []string{"upstream-url must be an absolute http or https URL"}
	}
	if i := apiPrefixAt(u.Path); i >= 0 {
		// Refused rather than stripped: a base URL is copied from
		// somewhere, and one that already holds /api/v1 (or a whole
		// endpoint) says the copy went wrong; guessing which part was
		// meant could send calls somewhere else without a word.
		u.Path, u.RawPath = u.Path[:i], ""
		return []string{fmt.Sprintf("upstream-url must be the API's base URL, without %s: salesgraph adds %s/users/… itself; use %s",
			apiPrefix, apiPrefix, RedactURL(u.String()))}
	}
	return nil
}

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

// boolOrDemo reads a setting that defaults to on in demo mode only; ok is
// false when s is not a boolean.
func boolOrDemo(s string, demo bool) (v, ok bool) {
	switch strings.ToLower(s) {
	case "":
		return demo, true
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	return false, false
}

// ideOrigins are the origins a browser gives the IDE served on addr, for
// demo mode's CORS allow-list. The IDE is same-origin, which CORS does not
// restrict; listing it keeps the demo working when a browser sends the page
// from 127.0.0.1 and calls localhost, or the other way round. An address
// with port 0 is not known yet and yields none.
func ideOrigins(addr string) []string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return nil
	}
	return []string{"http://localhost:" + port, "http://127.0.0.1:" + port, "http://[::1]:" + port}
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// canonicalList is a comma-separated list of header names, canonicalised
// once here for every part that compares them.
func canonicalList(s string) []string {
	out := splitList(s)
	for i, h := range out {
		out[i] = http.CanonicalHeaderKey(h)
	}
	return out
}

// headerNames lists the names in OTEL_EXPORTER_OTLP_HEADERS-style values
// ("k1=v1,k2=v2"), whose values are typically API keys.
func headerNames(values ...string) []string {
	names := []string{}
	for _, v := range values {
		for kv := range strings.SplitSeq(v, ",") {
			if k, _, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(k) != "" {
				names = append(names, strings.TrimSpace(k))
			}
		}
	}
	return names
}
