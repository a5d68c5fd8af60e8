package observe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// resilienceMetrics are the upstream client's protections beyond the
// breaker's state: path ejections and the rate limit's queues. None is
// labelled by path or caller: ids and credentials never become labels.
type resilienceMetrics struct {
	ejections  *prometheus.CounterVec
	hedges     *prometheus.CounterVec
	hedgeDelay *prometheus.HistogramVec
}

// hedgeDelayBuckets span the hedge delay's floor and cap (10 ms and 1 s by
// default) and the few milliseconds below the floor a tuned policy may use.
var hedgeDelayBuckets = []float64{.001, .0025, .005, .01, .015, .025, .05, .1, .25, .5, 1}

func newResilienceMetrics(reg *prometheus.Registry) resilienceMetrics {
	r := resilienceMetrics{
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "path_ejections_total",
			Help: "Upstream paths (one user's list, as one caller sees it) ejected after failing repeatedly, by endpoint template: their calls fail at once for a while, the breaker's per-path half.",
		}, []string{"endpoint"}),
		hedges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "hedges_total",
			Help: "Hedged upstream requests, by endpoint template and result: sent (a second identical request after the first waited longer than the endpoint's recent high percentile), won (its answer was used, the first cancelled), refused_budget, refused_rate_limit, refused_circuit_open, refused_path_ejected (due but not sent).",
		}, []string{"endpoint", "result"}),
		hedgeDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "hedge_delay_seconds",
			Help:    "How long an upstream request had waited for its answer when a hedge of it was due (sent or refused), by endpoint template: the hedge delay the endpoint's recent latencies set, and a multiple of it for a further hedge.",
			Buckets: hedgeDelayBuckets,
		}, []string{"endpoint"}),
	}
	reg.MustRegister(r.ejections, r.hedges, r.hedgeDelay)
	return r
}

// PathEjected records the ejection of a path of endpoint (a template).
func (m *Metrics) PathEjected(endpoint string) {
	if m == nil {
		return
	}
	m.resilience.ejections.WithLabelValues(endpoint).Inc()
}

// UpstreamHedge records a hedge of an upstream request to endpoint (a
// template): sent, won, or refused and why (restclient's HedgeResult), and,
// for a hedge due (any result but won), how long the request had waited.
func (m *Metrics) UpstreamHedge(endpoint, result string, waited time.Duration) {
	if m == nil {
		return
	}
	m.resilience.hedges.WithLabelValues(endpoint, result).Inc()
	if result != hedgeWon {
		m.resilience.hedgeDelay.WithLabelValues(endpoint).Observe(waited.Seconds())
	}
}

// hedgeWon is restclient.HedgeWon, which observe does not import: a
// hedge's second report, when it won, not a hedge due.
const hedgeWon = "won"

// WatchEjectedPaths exposes ejected() as the gauge of paths ejected now.
// Call it once per Metrics.
func (m *Metrics) WatchEjectedPaths(ejected func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "upstream", Name: "paths_ejected",
		Help: "Upstream paths ejected now, each for one caller.",
	}, func() float64 { return float64(ejected()) }))
}

// WatchRateLimitQueues exposes the rate limit's queues: calls waiting for
// a turn, and the callers (credentials) they belong to. Call it once per
// Metrics.
func (m *Metrics) WatchRateLimitQueues(waiting, queues func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "rate_limit_waiting",
			Help: "Upstream calls waiting for a turn of the facade's rate limit (the one waiting in the limiter itself not counted).",
		}, func() float64 { return float64(waiting()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "rate_limit_queues",
			Help: "Callers (credentials) with upstream calls waiting for a turn of the facade's rate limit; their queues are served in turn.",
		}, func() float64 { return float64(queues()) }),
	)
}

// BodyMemory is what WatchBodyMemory reads: the memory budget for upstream
// response bodies (restclient's body budget).
type BodyMemory struct {
	Limit, InUse int64 // bytes
	Waiting      int   // calls waiting for room
}

// WatchBodyMemory exposes the upstream body budget: its size, the bytes held
// by bodies being read or kept for responses being built, and the calls
// waiting for room. Call it once per Metrics.
func (m *Metrics) WatchBodyMemory(read func() BodyMemory) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "body_memory_bytes",
			Help: "Bytes of the upstream body budget held now: bodies being read, and the answers operations keep until their responses are built.",
		}, func() float64 { return float64(read().InUse) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "body_memory_limit_bytes",
			Help: "The upstream body budget (-upstream-body-budget).",
		}, func() float64 { return float64(read().Limit) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "body_memory_waiting",
			Help: "Upstream calls waiting for room in the body budget.",
		}, func() float64 { return float64(read().Waiting) }),
	)
}

// ResponseMemoryLimit exposes the response memory budget's size beside the
// bytes it holds (salesgraph_graphql_response_memory_bytes), so that alerts
// compare the two rather than a number copied from the configuration. Call
// it once per Metrics.
func (m *Metrics) ResponseMemoryLimit(limit int64) {
	if m == nil {
		return
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "graphql", Name: "response_memory_limit_bytes",
		Help: "The response memory budget (-max-response-memory).",
	})
	g.Set(float64(limit))
	m.reg.MustRegister(g)
}
