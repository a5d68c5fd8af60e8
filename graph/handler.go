package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/salesgraph/salesgraph/gqlhttp"
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
	// MaxThreadPages caps how many upstream pages one user's threads (or
	// any list the upstream pages) may span. Default 500.
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
	// DisableOperationSharing makes every request execute on its own, even
	// when an identical one is being executed (opshare.go), e.g. for tests
	// that count executions.
	DisableOperationSharing bool
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
	// Security holds the endpoint's settings (gqlhttp.Options: limits,
	// CSRF and CORS, ForwardHeaders, Introspection, persisted operations,
	// response caps) and the cost estimate's limits (security.go). The
	// forwarded headers are sent upstream unchanged; default Authorization.
	Security

	// test holds what only tests set, through export_test.go files.
	test testHooks
}

// testHooks are the switches tests turn in a handler; the zero value is
// what serves.
type testHooks struct {
	// opShareEvent is told of what sharing operations does (opShare.event).
	opShareEvent func(event string)
	// opShareNow dates a shared request's arrival (opShare.now); nil is
	// time.Now.
	opShareNow func() time.Time
}

// Defaults of Options.
const (
	DefaultMaxUpstreamConcurrency  = 256
	DefaultMaxOperationConcurrency = 64
)

// DefaultForwardHeaders are the headers sent upstream when
// Options.ForwardHeaders names none: the caller's credential.
var DefaultForwardHeaders = []string{"Authorization"}

func (c *Options) defaults() {
	if len(c.ForwardHeaders) == 0 {
		c.ForwardHeaders = DefaultForwardHeaders
	}
	if c.MaxUpstreamConcurrency <= 0 {
		c.MaxUpstreamConcurrency = DefaultMaxUpstreamConcurrency
	}
	if c.MaxOperationConcurrency <= 0 {
		c.MaxOperationConcurrency = DefaultMaxOperationConcurrency
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
}

// Validate reports every invalid setting at once, as a *gqlhttp.ConfigError
// naming each by its field, after applying the defaults; the allowed
// operations are checked against the sales schema. NewHandler panics on
// what it reports, so that a misconfiguration cannot start; server.go calls
// it first to print a message instead.
func (o Options) Validate() error {
	o.defaults()
	var problems []gqlhttp.Problem
	if err := o.Security.Options.Validate(salesSchema()); err != nil {
		var ce *gqlhttp.ConfigError
		if !errors.As(err, &ce) {
			return err
		}
		problems = append(problems, ce.Problems...)
	}
	problems = append(problems, o.problems()...)
	if len(problems) > 0 {
		return &gqlhttp.ConfigError{Problems: problems}
	}
	return nil
}

// Problems reports every invalid setting of o as it is, without applying
// the defaults first (a zero limit is reported as not positive), by field:
// Validate's rules, the endpoint's (gqlhttp.Options.Problems) included, for
// a caller whose settings have no zero default and that says each problem
// in its own words (salesgraph's config package, in those of its flags).
// The allowed operations are checked against the sales schema.
func (o Options) Problems() []gqlhttp.Problem {
	return append(o.Security.Options.Problems(salesSchema()), o.problems()...)
}

// problems reports what is wrong with the settings graph itself reads.
func (o *Options) problems() []gqlhttp.Problem {
	problems := o.Security.problems()
	if n := len(o.CursorSecret); n > 0 && n < MinCursorSecret {
		problems = append(problems, gqlhttp.Problem{Field: "CursorSecret", Issue: fmt.Sprintf("must be at least %d bytes, got %d", MinCursorSecret, n)})
	}
	return problems
}

// salesSchema is the schema, for checks that need no resolvers.
func salesSchema() *ast.Schema {
	return NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
}

// NewHandler returns the /graphql endpoint: gqlhttp's hardened GraphQL
// over HTTP in front of the sales schema, with the argument check and the
// cost estimate, the error presenter, the observability, and the hook that
// gives every request its own loaders, forwarded credentials and deadline.
// It panics on Options that Validate refuses.
func NewHandler(cfg Options) http.Handler {
	if err := cfg.Validate(); err != nil {
		panic("graph.NewHandler: " + err.Error())
	}
	cfg.defaults()
	cursors := newCursorCodec(cfg.CursorSecret, cfg.MaxThreadPages)
	res := &Resolver{cursors: cursors}
	es := NewExecutableSchema(Config{Resolvers: res})
	schema := es.Schema()
	res.schema = schema

	endpoint := cfg.Security.Options
	// Every value of this schema is written compact, the one raw JSON
	// scalar included (model.JSON is compacted when converted).
	endpoint.CompactData = true
	srv, err := gqlhttp.New(es, endpoint)
	if err != nil {
		panic("graph.NewHandler: " + err.Error())
	}
	srv.Use(argumentCheck{schema: schema, cursors: cursors})
	srv.Use(limitCheck{sec: &cfg.Security, schema: schema, cursors: cursors})
	srv.Use(staleMarker{})
	srv.Use(recordsRelease{cost: costReport{complexity: cfg.MaxComplexity, calls: cfg.MaxUpstreamCalls, callsPerOperation: cfg.MaxUpstreamCallsPerOperation}})
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
	m := &middleware{next: srv, cfg: cfg, loaders: lc, obs: obs}
	srv.Begin = m.begin
	srv.Use(operationState{cfg: lc})
	if cfg.DisableOperationSharing {
		return srv
	}
	// Outside the endpoint, so that a waiter gets the whole answer the
	// endpoint wrote, its CORS headers included (opshare.go).
	m.share = newOpShare(srv.Options().MaxRequestBytes, cfg.test, cfg.Metrics.CacheCounter(answersCache))
	return m
}

// middleware starts what belongs to one HTTP request (one operation, or a
// batch): its deadline and upstream call budget, loaders, credentials and
// observability.
type middleware struct {
	next    http.Handler // the endpoint
	cfg     Options
	loaders *loaderConfig
	obs     *observer
	share   *opShare // nil when DisableOperationSharing
}

// serve executes one request through the endpoint: ServeHTTP (opshare.go)
// calls it for each request that it does not answer with an identical
// one's response.
func (m *middleware) serve(w http.ResponseWriter, r *http.Request) { m.next.ServeHTTP(w, r) }

// begin is the endpoint's Begin hook: it starts what belongs to one
// request (one operation, or a batch).
func (m *middleware) begin(ctx context.Context, r *http.Request) (context.Context, func()) {
	ctx, cancel, passed := withOperationDeadline(ctx, m.cfg.OperationTimeout)
	fwd := gqlhttp.ForwardedFrom(ctx)
	id, _ := gqlhttp.RequestIDFrom(ctx)
	st := &requestState{
		loaders:          newLoaders(m.loaders),
		callerCredential: len(fwd) > 0,
		requestID:        id,
	}
	st.loaders.outOfTime = passed
	st.budget.left.Store(int64(m.cfg.MaxUpstreamCalls))
	// The request id goes upstream too, so that its logs can be matched with ours.
	fwd.Set(observe.RequestIDHeader, st.requestID)
	ctx = restclient.WithRequestHeaders(ctx, fwd)
	st.holds = &bodyHolds{}
	ctx, st.releaseBodies = st.holds.hold(ctx)
	ctx = withState(ctx, st)
	ctx = model.WithDateZone(ctx, m.cfg.TimeZone)
	ctx, done := m.obs.begin(ctx, r, st.requestID)
	ctx = st.reporting(ctx, 0)
	return ctx, func() {
		done()
		cancel()
		st.holds.releaseAll() // those whose last payload never came (recordsRelease)
	}
}

// reporting is ctx with the upstream reporting to st what operation i's
// calls were answered with: stale answers for its response, and how each
// was answered for its log line.
func (st *requestState) reporting(ctx context.Context, i int) context.Context {
	ctx = restclient.WithCacheReport(ctx, st.stale.add)
	if st.rec != nil {
		ctx = restclient.WithAnswerReport(ctx, st.rec.op(i).upstream.add)
	}
	return ctx
}

// operationState gives each operation of a batch a state of its own, as
// if it had come alone: its loaders (their cache, so that its log line
// counts its own calls, and the per-operation bound on calls in flight),
// its stale answers, the hold on its upstream answers' room in the body
// budget; so that operations running concurrently (gqlhttp's batch.go) do
// not take each other's. What bounds the request as a whole
// stays shared: the deadline, the call budget (Loaders.guard) and the
// estimate's budget, which the extensions drew on before execution.
type operationState struct{ cfg *loaderConfig }

var (
	_ graphql.HandlerExtension     = operationState{}
	_ graphql.OperationInterceptor = operationState{}
)

func (operationState) ExtensionName() string                   { return "OperationState" }
func (operationState) Validate(graphql.ExecutableSchema) error { return nil }

func (s operationState) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	i, batch := gqlhttp.OperationIndex(ctx)
	st, ok := stateFrom(ctx)
	if !batch || !ok {
		return next(ctx)
	}
	op := &requestState{
		loaders:          newLoadersSharing(s.cfg, st.loaders),
		callerCredential: st.callerCredential,
		requestID:        st.requestID,
		rec:              st.rec,
		holds:            st.holds,
	}
	ctx, op.releaseBodies = st.holds.hold(ctx)
	return next(op.reporting(withState(ctx, op), i))
}
