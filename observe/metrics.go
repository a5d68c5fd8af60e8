package observe

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of ours.
const namespace = "salesgraph"

// Outcome says how a GraphQL operation ended, as a metric label.
type Outcome string

// Outcomes of an operation.
const (
	OutcomeOK      Outcome = "ok"      // no errors
	OutcomePartial Outcome = "partial" // data and errors: some fields failed
	OutcomeError   Outcome = "error"   // errors and no data: the request failed as a whole

	// OutcomeAPQMiss is logged, never counted: an automatic persisted query
	// whose hash was not known, the protocol's normal first step (APQ).
	OutcomeAPQMiss Outcome = "apq_miss"
)

// Operation-name labels that are not names.
const (
	OpAnonymous = "anonymous" // an operation with no name
	OpInvalid   = "invalid"   // a request that never reached a known operation (unparseable, invalid, no such operation)
	OpOther     = "other"     // a named operation past the cardinality cap
)

// DefaultMaxOperationNames is how many distinct operation names get their
// own label before later ones are counted as "other".
const DefaultMaxOperationNames = 100

// maxOperationNameLen keeps one absurd name from becoming a label.
const maxOperationNameLen = 64

// Circuit-breaker states, as sony/gobreaker's State.String (and
// restclient's BreakerState.String) spell them.
const (
	CircuitClosed   = "closed"
	CircuitHalfOpen = "half-open"
	CircuitOpen     = "open"
)

var circuitStates = [...]string{CircuitClosed, CircuitHalfOpen, CircuitOpen}

// Results of an automatic persisted query lookup, as APQ's label.
const (
	APQHit        = "hit"        // the hash was known: the document was not sent
	APQMiss       = "miss"       // the hash was not known: the client sends the document next, APQ's normal first step
	APQRegistered = "registered" // a document sent with its hash was checked and remembered
)

// Buckets. Operations and upstream calls share one set, from the fast path
// of a cached answer to the upstream timeout; batch sizes are powers of two
// up to the per-operation concurrency bound's order of magnitude.
var (
	durationBuckets  = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	batchSizeBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}
)

// Metrics holds salesgraph's Prometheus collectors on a registry of its own,
// so that two servers in one process (tests) never share counters. Create it
// with NewMetrics; serve it with Handler. A nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	operations   *prometheus.CounterVec
	opShared     prometheus.Counter
	opDuration   *prometheus.HistogramVec
	opInFlight   prometheus.Gauge
	gqlErrors    *prometheus.CounterVec
	upRequests   *prometheus.CounterVec
	upDuration   *prometheus.HistogramVec
	upInFlight   prometheus.Gauge
	retries      *prometheus.CounterVec
	retryDenied  *prometheus.CounterVec
	circuit      *prometheus.GaugeVec
	circuitTrans *prometheus.CounterVec
	batchSize    *prometheus.HistogramVec
	cache        *prometheus.CounterVec
	apq          *prometheus.CounterVec
	respMemory   prometheus.Gauge
	upCache      *prometheus.CounterVec
	upShared     *prometheus.CounterVec
	redisErrors  *prometheus.CounterVec
	rateLimited  prometheus.Counter

	maxNames int
	namesMu  sync.RWMutex
	names    map[string]struct{}

	cacheCounters sync.Map // cache name -> *[2]prometheus.Counter{miss, hit}

	callMu sync.RWMutex
	calls  map[callKey]callSeries

	opMu sync.RWMutex
	ops  map[opKey]opSeries

	opDone func() // opInFlight.Dec, made once: a method value allocates

	apqSeries    seriesCache[prometheus.Counter]
	batchSeries  seriesCache[prometheus.Observer]
	sharedSeries seriesCache[prometheus.Counter]

	circuitMu sync.Mutex
	circuits  map[string]string // circuit -> last state reported

	resilience resilienceMetrics
}

// MetricsOption configures NewMetrics.
type MetricsOption func(*Metrics)

// WithMaxOperationNames sets how many distinct operation names get their own
// label (default DefaultMaxOperationNames); the first n seen win, the rest
// are "other". Clients choose operation names, so without a cap one client
// could create unbounded time series.
func WithMaxOperationNames(n int) MetricsOption {
	return func(m *Metrics) {
		if n >= 0 {
			m.maxNames = n
		}
	}
}

// NewMetrics creates the collectors and registers them, with the Go runtime
// and process collectors and go_build_info (ReadBuild), on a new registry.
func NewMetrics(opts ...MetricsOption) *Metrics {
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		maxNames: DefaultMaxOperationNames,
		names:    make(map[string]struct{}),
		circuits: make(map[string]string),
		calls:    make(map[callKey]callSeries),
		ops:      make(map[opKey]opSeries),
	}
	for _, o := range opts {
		o(m)
	}
	m.operations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "graphql", Name: "operations_total",
		Help: "GraphQL operations served, by operation name (bounded: anonymous, invalid and other group the rest) and outcome (ok, partial, error).",
	}, []string{"operation", "outcome"})
	m.opShared = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "graphql", Name: "operations_shared_total",
		Help: "GraphQL requests answered with the response of an identical request's execution in flight instead of executing (each is also counted in operations_total).",
	})
	m.opDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "graphql", Name: "operation_duration_seconds",
		Help:    "Time from receiving a GraphQL request to its response being written, by operation name and outcome.",
		Buckets: durationBuckets,
	}, []string{"operation", "outcome"})
	m.opInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "graphql", Name: "operations_in_flight",
		Help: "GraphQL requests being served.",
	})
	m.gqlErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "graphql", Name: "errors_total",
		Help: "Errors in GraphQL responses, by extensions.code.",
	}, []string{"code"})
	m.upRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "requests_total",
		Help: "HTTP requests to the upstream API (each attempt), by endpoint template, status class (2xx..5xx, none when no answer came) and result (ok, http_error, timeout, unreachable, bad_response, cancelled; refused unsent: circuit_open by the circuit breaker, path_ejected by a path's ejection, rate_limited by the facade's rate limit).",
	}, []string{"endpoint", "status_class", "result"})
	m.upDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "request_duration_seconds",
		Help:    "Duration of HTTP requests to the upstream API, from sending to the body being read and decoded, by endpoint template and status class.",
		Buckets: durationBuckets,
	}, []string{"endpoint", "status_class"})
	m.upInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "calls_in_flight",
		Help: "Upstream calls in progress (retries of a call included), across all operations.",
	})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "retries_total",
		Help: "Upstream requests sent again after a failed attempt, by endpoint template.",
	}, []string{"endpoint"})
	m.retryDenied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "retries_denied_total",
		Help: "Retryable upstream failures returned without a retry, by endpoint template and reason (attempts, budget, deadline, retry_after).",
	}, []string{"endpoint", "reason"})
	m.circuit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "circuit_state",
		Help: "1 for the state each upstream circuit breaker is in (closed, half-open, open), 0 for the others.",
	}, []string{"circuit", "state"})
	m.circuitTrans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "circuit_changes_total",
		Help: "Upstream circuit breaker state changes, by circuit and the state entered.",
	}, []string{"circuit", "state"})
	m.batchSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "dataloader", Name: "batch_size",
		Help:    "Keys per dataloader batch, by loader (one or two per upstream list: meetings, threadPages, allThreads, ...); the sum counts distinct keys loaded.",
		Buckets: batchSizeBuckets,
	}, []string{"loader"})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cache_lookups_total",
		Help: "Cache and in-flight-sharing lookups, by cache and result (hit, miss). A per-operation loader hit is a call not made because the operation already made or started it.",
	}, []string{"cache", "result"})

	m.apq = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "apq_total",
		Help: "Automatic persisted query lookups, by result: hit (the hash was known), miss (it was not; the client sends the document next, the protocol's normal first step), registered (a document sent with its hash was checked and remembered). Misses are not counted as operations or errors.",
	}, []string{"result"})
	m.respMemory = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "graphql", Name: "response_memory_bytes",
		Help: "Bytes of the process-wide response memory budget held by responses being built.",
	})

	m.upCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "cache_total",
		Help: "Upstream response cache lookups, by result: hit_process and hit_redis (a fresh answer, no call made), miss (a call was made), stale (a failed call answered with an answer past its freshness); and revoked (a credential refused by the upstream lost what it had cached), not_stored_upstream_forbids (an answer not stored because its Cache-Control or Vary forbade it).",
	}, []string{"result"})
	m.upShared = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "shared_total",
		Help: "Upstream calls answered by an identical call already in flight instead of a request of their own, by endpoint template.",
	}, []string{"endpoint"})
	m.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "redis_errors_total",
		Help: "Failed Redis calls, by component (cache, ratelimit, apq) and operation; the component works without Redis meanwhile.",
	}, []string{"component", "op"})
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "rate_limited_total",
		Help: "Upstream calls refused by the facade's own rate limit because their turn would come after their deadline.",
	})

	m.resilience = newResilienceMetrics(m.reg)
	m.opDone = m.opInFlight.Dec
	m.apqSeries.resolve = func(v string) prometheus.Counter { return m.apq.WithLabelValues(v) }
	m.batchSeries.resolve = func(v string) prometheus.Observer { return m.batchSize.WithLabelValues(v) }
	m.sharedSeries.resolve = func(v string) prometheus.Counter { return m.upShared.WithLabelValues(v) }

	m.reg.MustRegister(
		m.upCache, m.upShared, m.redisErrors, m.rateLimited,
		m.operations, m.opShared, m.opDuration, m.opInFlight, m.gqlErrors,
		m.upRequests, m.upDuration, m.upInFlight, m.retries, m.retryDenied, m.circuit, m.circuitTrans,
		m.batchSize, m.cache, m.apq, m.respMemory,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		ReadBuild().collector(),
	)
	return m
}

// Registry returns the registry, for tests and for collectors added by
// other packages.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus exposition format. A failure
// to collect one metric is reported in the response and does not hide the
// others.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg, // adds promhttp_metric_handler_errors_total
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// OperationLabel is the label an operation gets: its name while the set of
// distinct names stays under the cap, OpAnonymous for an unnamed one,
// OpInvalid when the request named no operation that exists in a valid
// document, and OpOther past the cap.
func (m *Metrics) OperationLabel(name string, known bool) string {
	switch {
	case !known:
		return OpInvalid
	case name == "":
		return OpAnonymous
	case len(name) > maxOperationNameLen || m == nil:
		return OpOther
	}
	m.namesMu.RLock()
	_, ok := m.names[name]
	m.namesMu.RUnlock()
	if ok {
		return name
	}
	m.namesMu.Lock()
	defer m.namesMu.Unlock()
	if _, ok := m.names[name]; ok {
		return name
	}
	if len(m.names) >= m.maxNames {
		return OpOther
	}
	m.names[name] = struct{}{}
	return name
}

// OperationStarted counts a GraphQL request in flight; call the returned
// function when it ends.
func (m *Metrics) OperationStarted() (done func()) {
	if m == nil {
		return func() {}
	}
	m.opInFlight.Inc()
	return m.opDone
}

// Operation records one GraphQL operation: label from OperationLabel, how it
// ended, and how long it took.
func (m *Metrics) Operation(label string, outcome Outcome, d time.Duration) {
	if m == nil {
		return
	}
	k := opKey{label, outcome}
	m.opMu.RLock()
	s, ok := m.ops[k]
	m.opMu.RUnlock()
	if !ok {
		// Resolved once per label pair (OperationLabel bounds them), as for
		// upstream calls: this runs for every operation.
		s = opSeries{m.operations.WithLabelValues(label, string(outcome)), m.opDuration.WithLabelValues(label, string(outcome))}
		m.opMu.Lock()
		m.ops[k] = s
		m.opMu.Unlock()
	}
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// SharedOperation records a GraphQL request answered by an identical
// request's execution; Operation counts it too.
func (m *Metrics) SharedOperation() {
	if m != nil {
		m.opShared.Inc()
	}
}

// seriesCache resolves a vector's child once per label value, on first
// use (so that /metrics shows what happened, as before): WithLabelValues
// hashes the values and looks the child up under the vector's lock, and
// these run per request or per batch. Callers pass values from a fixed
// vocabulary, so it stays as small as the vector.
type seriesCache[T any] struct {
	resolve func(value string) T

	mu sync.RWMutex
	m  map[string]T
}

func (c *seriesCache[T]) get(v string) T {
	c.mu.RLock()
	s, ok := c.m[v]
	c.mu.RUnlock()
	if ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok = c.m[v]; !ok {
		if c.m == nil {
			c.m = map[string]T{}
		}
		s = c.resolve(v)
		c.m[v] = s
	}
	return s
}

type opKey struct {
	label   string
	outcome Outcome
}

type opSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// GraphQLErrors records n errors with this extensions.code in a response.
func (m *Metrics) GraphQLErrors(code string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.gqlErrors.WithLabelValues(codeLabel(code)).Add(float64(n))
}

// codeLabel keeps the code label to the vocabulary of codes (upper-case
// words), so that an error someone builds with an arbitrary code cannot
// create series at will.
func codeLabel(code string) string {
	if code == "" || len(code) > 48 {
		return "OTHER"
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return "OTHER"
		}
	}
	return code
}

// APQ records one automatic persisted query lookup: APQHit, APQMiss or
// APQRegistered.
func (m *Metrics) APQ(result string) {
	if m == nil {
		return
	}
	m.apqSeries.get(result).Inc()
}

// ResponseMemory adds delta (negative when released) to the bytes of the
// response memory budget in use.
func (m *Metrics) ResponseMemory(delta int64) {
	if m == nil {
		return
	}
	m.respMemory.Add(float64(delta))
}

// UpstreamCall records one HTTP attempt to the upstream: its endpoint
// template (never a concrete path), its HTTP status (0 when no answer
// came), its result (a short constant the client's classification gives,
// such as "ok", "timeout" or "http_error") and its duration.
func (m *Metrics) UpstreamCall(endpoint string, status int, result string, d time.Duration) {
	if m == nil {
		return
	}
	k := callKey{endpoint, StatusClass(status), result}
	m.callMu.RLock()
	c, ok := m.calls[k]
	m.callMu.RUnlock()
	if !ok {
		// Resolved once per label combination: WithLabelValues hashes and
		// allocates, and this runs once per upstream attempt.
		c = callSeries{m.upRequests.WithLabelValues(k.endpoint, k.class, k.result), m.upDuration.WithLabelValues(k.endpoint, k.class)}
		m.callMu.Lock()
		m.calls[k] = c
		m.callMu.Unlock()
	}
	c.requests.Inc()
	c.duration.Observe(d.Seconds())
}

type callKey struct{ endpoint, class, result string }

type callSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

var statusClasses = [...]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "7xx", "8xx", "9xx"}

// StatusClass is "2xx" for 200..299 and so on; "none" when no answer came.
func StatusClass(status int) string {
	if status < 100 || status > 999 {
		return "none"
	}
	return statusClasses[status/100]
}

// UpstreamCallStarted counts an upstream call in flight, until
// UpstreamCallDone. (A pair rather than a returned func: this runs per
// call, and a closure would cost an allocation each time.)
func (m *Metrics) UpstreamCallStarted() {
	if m != nil {
		m.upInFlight.Inc()
	}
}

// UpstreamCallDone ends what UpstreamCallStarted counted.
func (m *Metrics) UpstreamCallDone() {
	if m != nil {
		m.upInFlight.Dec()
	}
}

// RetryAttempt records that an upstream request to endpoint (a template,
// never a concrete path) is being sent again. For the retry loop.
func (m *Metrics) RetryAttempt(endpoint string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(endpoint).Inc()
}

// UpstreamCache records one lookup of the upstream response cache
// (hit_process, hit_redis, miss or stale), or one of its other events
// (revoked, not_stored_upstream_forbids).
func (m *Metrics) UpstreamCache(result string) {
	if m == nil {
		return
	}
	m.upCache.WithLabelValues(result).Inc()
}

// UpstreamShared records an upstream call to endpoint (a template) answered
// by an identical call in flight: restclient's WithShareObserver.
func (m *Metrics) UpstreamShared(endpoint string) {
	if m == nil {
		return
	}
	m.sharedSeries.get(endpoint).Inc()
}

// RedisError records a failed Redis call by component and operation
// (short constants of the caller's).
func (m *Metrics) RedisError(component, op string) {
	if m == nil {
		return
	}
	m.redisErrors.WithLabelValues(component, op).Inc()
}

// UpstreamRateLimited records a call refused by the facade's rate limit.
func (m *Metrics) UpstreamRateLimited() {
	if m == nil {
		return
	}
	m.rateLimited.Inc()
}

// RetryDenied records a retryable failure returned without a retry, and
// why (a short constant such as restclient's RetryDenial values).
func (m *Metrics) RetryDenied(endpoint, reason string) {
	if m == nil {
		return
	}
	m.retryDenied.WithLabelValues(endpoint, reason).Inc()
}

// CircuitState records the state a circuit breaker is in: one of
// CircuitClosed, CircuitHalfOpen, CircuitOpen (gobreaker's State.String()).
// For the breaker's state-change callback, and once at start for the initial
// state. circuit names the breaker (a constant, e.g. the upstream's name).
func (m *Metrics) CircuitState(circuit, state string) {
	if m == nil {
		return
	}
	m.circuitMu.Lock()
	prev, seen := m.circuits[circuit]
	m.circuits[circuit] = state
	m.circuitMu.Unlock()
	for _, s := range circuitStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.circuit.WithLabelValues(circuit, s).Set(v)
	}
	if seen && prev != state {
		m.circuitTrans.WithLabelValues(circuit, state).Inc()
	}
}

// BatchSize records one dataloader batch of n keys.
func (m *Metrics) BatchSize(loader string, n int) {
	if m == nil {
		return
	}
	m.batchSeries.get(loader).Observe(float64(n))
}

// CacheLookup records a lookup in a cache or in-flight-sharing table: hit
// when an answer (or a call already under way) was reused. The cache is
// the caller's name for it: the facade's loaders are "loader_" and the
// loader's name ("loader_meetings"); other layers add their own (e.g.
// "upstream_inflight" for sharing calls across operations).
func (m *Metrics) CacheLookup(cache string, hit bool) {
	if m == nil {
		return
	}
	i := 0
	if hit {
		i = 1
	}
	m.cacheCounter(cache)[i].Inc()
}

// CacheCounter returns CacheLookup for one cache, with its series resolved
// once: for caches looked up per key on hot paths.
func (m *Metrics) CacheCounter(cache string) (lookup func(hit bool)) {
	if m == nil {
		return func(bool) {}
	}
	c := m.cacheCounter(cache)
	return func(hit bool) {
		if hit {
			c[1].Inc()
		} else {
			c[0].Inc()
		}
	}
}

// cacheCounter resolves a cache's two series once: lookups are per key, the
// hottest path this package has.
func (m *Metrics) cacheCounter(cache string) *[2]prometheus.Counter {
	if c, ok := m.cacheCounters.Load(cache); ok {
		return c.(*[2]prometheus.Counter)
	}
	c := &[2]prometheus.Counter{m.cache.WithLabelValues(cache, "miss"), m.cache.WithLabelValues(cache, "hit")}
	actual, _ := m.cacheCounters.LoadOrStore(cache, c)
	return actual.(*[2]prometheus.Counter)
}
