package graph

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
	"golang.org/x/sync/semaphore"
)

// Options is what the GraphQL handler needs. The zero value of every field
// but Upstream has a sensible default.
type Options struct {
	// Upstream is the REST API; normally a *restclient.Client.
	Upstream Upstream
	// ForwardHeaders are the inbound request headers sent upstream unchanged
	// (canonicalised). Default: Authorization.
	ForwardHeaders []string
	// MaxUpstreamConcurrency bounds in-flight upstream calls across all
	// operations. Default 256.
	MaxUpstreamConcurrency int
	// MaxOperationConcurrency bounds in-flight upstream calls of one
	// operation. Default 64: enough for users(ids: [32 ids]) with meetings
	// and threads to leave in one wave.
	MaxOperationConcurrency int
	// BatchWait is how long a dataloader gathers keys before its calls leave.
	// Default 1ms.
	BatchWait time.Duration
	// MaxThreadPages caps how many upstream pages one user's threads may
	// span. Default 500.
	MaxThreadPages int
	// OperationTimeout bounds each request's operations, upstream calls and
	// waits for upstream slots included; what is not done by then fails
	// with OPERATION_TIMEOUT. Default 30s.
	OperationTimeout time.Duration
	// MaxUpstreamCallsPerOperation is how many upstream calls one request
	// (a batch counts as one) may make; calls beyond it fail with
	// UPSTREAM_CALL_BUDGET_EXCEEDED. It catches what the estimate
	// (MaxUpstreamCalls) could not foresee. Default MaxUpstreamCalls.
	MaxUpstreamCallsPerOperation int
	// CursorSecret is the key that authenticates cursors (cursor.go), at
	// least MinCursorSecret bytes. Replicas that share it accept each
	// other's cursors; empty means a random key per process, so a cursor
	// is then refused by any other process.
	CursorSecret []byte
	// TimeZone is the upstream's zone (restclient.WithLocation): a plain
	// date given as a DateTime argument means midnight there. Default UTC.
	TimeZone *time.Location
	// MaxResponseMemory is the process-wide budget, in bytes, of responses
	// being built: every operation's response is charged to it while it is
	// built and until it is written, and one that does not fit is refused
	// with RESPONSE_MEMORY_BUDGET_EXCEEDED (response_budget.go). Default
	// DefaultMaxResponseMemory (256 MiB), or MaxResponseBytes when larger;
	// it may not be smaller than MaxResponseBytes.
	MaxResponseMemory int64
	// DisableOperationSharing makes every request execute on its own, even
	// when an identical one is being executed (opshare.go), e.g. for tests
	// that count executions.
	DisableOperationSharing bool
	// Introspection enables schema introspection (on in demo mode).
	Introspection bool
	// Logger receives internal errors, failed upstream calls (warn) and one
	// line per operation (info); default slog.Default().
	Logger *slog.Logger
	// Metrics records operations, errors by code, upstream calls in flight,
	// loader batch sizes and cache hits (observe.go); nil records none.
	Metrics *observe.Metrics
	// Tracing makes the operation and dataloader-batch spans (and resolver
	// spans if it says so) and continues callers' W3C trace context; nil
	// does neither.
	Tracing *observe.Tracing
	// Security holds the request limits, CSRF and CORS, persisted
	// operations and response caps (security.go).
	Security
}

func (c *Options) defaults() {
	if len(c.ForwardHeaders) == 0 {
		c.ForwardHeaders = []string{"Authorization"}
	}
	// Canonical, as the allow-list is compared with canonical names; into a
	// new slice, since the caller's is shared.
	fwd := make([]string, len(c.ForwardHeaders))
	for i, h := range c.ForwardHeaders {
		fwd[i] = http.CanonicalHeaderKey(strings.TrimSpace(h))
	}
	c.ForwardHeaders = fwd
	if c.MaxUpstreamConcurrency <= 0 {
		c.MaxUpstreamConcurrency = 256
	}
	if c.MaxOperationConcurrency <= 0 {
		c.MaxOperationConcurrency = 64
	}
	if c.BatchWait <= 0 {
		c.BatchWait = time.Millisecond
	}
	if c.MaxThreadPages <= 0 {
		c.MaxThreadPages = 500
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Security.defaults()
	c.resilienceDefaults()
	if c.MaxResponseMemory == 0 {
		c.MaxResponseMemory = max(DefaultMaxResponseMemory, int64(c.MaxResponseBytes))
	}
}

// resourceProblems reports invalid resource bounds, after the defaults.
func (c *Options) resourceProblems() []string {
	if c.MaxResponseMemory < int64(c.MaxResponseBytes) {
		return []string{fmt.Sprintf("MaxResponseMemory (%d) must be at least MaxResponseBytes (%d): a response of the largest size must fit", c.MaxResponseMemory, c.MaxResponseBytes)}
	}
	return nil
}

// NewHandler returns the /graphql endpoint: gqlgen's executor behind
// salesgraph's own GraphQL-over-HTTP transport (transport.go), the error
// presenter, and the middleware that gives every operation its own loaders
// and forwarded credentials, all inside CORS. It panics on invalid Options,
// naming the fields (validate): they are a program's, checked once here.
func NewHandler(cfg Options) http.Handler {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		panic("graph.NewHandler: " + err.Error())
	}
	cursors := newCursorCodec(cfg.CursorSecret, cfg.MaxThreadPages)
	res := &Resolver{cursors: cursors}
	es := NewExecutableSchema(Config{Resolvers: res})
	schema := es.Schema()
	res.schema = schema

	srv := handler.New(es)
	srv.AddTransport(newTransport(&cfg, schema))
	srv.SetQueryCache(docHook{})
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(argumentCheck{schema: schema, cursors: cursors})
	srv.Use(limitCheck{sec: &cfg.Security, schema: schema, cursors: cursors})
	srv.Use(responseSize{})
	srv.SetErrorPresenter(errorPresenter(cfg.Logger))
	srv.SetRecoverFunc(recoverFunc(cfg.Logger))

	lc := &loaderConfig{
		up:         cfg.Upstream,
		global:     semaphore.NewWeighted(int64(cfg.MaxUpstreamConcurrency)),
		perRequest: int64(cfg.MaxOperationConcurrency),
		wait:       cfg.BatchWait,
		maxPages:   cfg.MaxThreadPages,

		globalLimit: cfg.MaxUpstreamConcurrency,
		maxCalls:    cfg.MaxUpstreamCallsPerOperation,
	}
	obs := newObserver(cfg, srv, lc)
	mw := &middleware{next: srv, cfg: cfg, loaders: lc, obs: obs}
	if !cfg.DisableOperationSharing {
		mw.share = newOpShare(cfg.MaxRequestBytes)
	}
	return cfg.Security.withCORS(cfg.ForwardHeaders, mw)
}

type middleware struct {
	next    http.Handler
	cfg     Options
	loaders *loaderConfig
	obs     *observer
	share   *opShare // nil when DisableOperationSharing
}

// serve executes one request: ServeHTTP (opshare.go) calls it for each
// request that it does not answer with an identical one's response.
func (m *middleware) serve(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := withOperationDeadline(r.Context(), m.cfg.OperationTimeout)
	defer cancel()
	fwd := forwardedHeaders(r, m.cfg.ForwardHeaders)
	st := &requestState{
		loaders:          newLoaders(m.loaders),
		callerCredential: len(fwd) > 0,
		requestID:        requestIDFor(r),
	}
	// The request id goes upstream too, so that its logs can be matched with ours.
	fwd.Set(observe.RequestIDHeader, st.requestID)
	ctx = restclient.WithRequestHeaders(ctx, fwd)
	ctx = withState(ctx, st)
	ctx = model.WithDateZone(ctx, m.cfg.TimeZone)
	ctx, done := m.obs.begin(ctx, r, st.requestID)
	defer done()
	w.Header().Set(observe.RequestIDHeader, st.requestID)
	// Answers depend on the caller's credentials, or on the server's own
	// when the caller sent none: no shared cache may keep them or hand one
	// caller's answer (or error) to another.
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Add("Vary", strings.Join(m.cfg.ForwardHeaders, ", "))
	m.next.ServeHTTP(w, r.WithContext(ctx))
}
