package graph

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/observe"
	"github.com/salesgraph/salesgraph/restclient"
)

// This file is the handler's observability: one log line, one metric sample
// and one span per operation, plus the per-call, per-batch and per-lookup
// hooks the loaders call. The middleware opens an opRecord for every
// request; the response interceptor fills in what only the executor knows
// (the operation, the errors); the middleware closes it when the response
// is written, so that requests refused before execution are seen too.

// observer is the handler's observability configuration.
type observer struct {
	log     *slog.Logger
	metrics *observe.Metrics
	tracing *observe.Tracing
	timing  bool // requests' upstream time is measured, for Server-Timing (servertiming.go)
}

// newObserver installs the response interceptor (and the resolver-span
// interceptor, when asked for) and the request id, log and refusal hooks on
// srv, and the batch and cache hooks on lc.
func newObserver(cfg Options, srv *gqlhttp.Server, lc *loaderConfig) *observer {
	o := &observer{log: cfg.Logger, metrics: cfg.Metrics, tracing: cfg.Tracing}
	srv.Use(opInterceptor{})
	if o.tracing.ResolverSpans() {
		srv.Use(resolverSpans{tracer: o.tracing.Tracer()})
	}
	srv.RequestID = requestIDFor
	srv.Logger = cfg.Logger
	srv.OnRefused = noteRefusal
	srv.OnReplaced = noteSent
	srv.OnAdded = noteAdded
	srv.OnAPQ = noteAPQ
	srv.OnResponseMemory = o.metrics.ResponseMemory
	if srv.Options().ServerTiming {
		o.timing = true
		srv.ServerTiming = serverTiming // servertiming.go
	}
	lc.onBatch = o.batch
	if o.metrics != nil {
		// Every request makes its loaders' caches: their counters are
		// resolved here, once.
		lookups := map[string]func(bool){}
		for _, d := range lists {
			for _, name := range []string{d.info().pagesLoader, d.info().allLoader} {
				lookups[loaderCacheName(name)] = o.metrics.CacheCounter(loaderCacheName(name))
			}
		}
		lc.onCache = func(cache string) func(bool) {
			if f, ok := lookups[cache]; ok {
				return f
			}
			return o.metrics.CacheCounter(cache)
		}
	}
	return o
}

// loaderCacheName is the cache label of a loader's cache: "loader_" and
// the loader's name (listInfo: "loader_meetings", "loader_threadPages").
func loaderCacheName(loader string) string { return "loader_" + loader }

// requestIDFor is the request's id: the caller's X-Request-Id when valid,
// else a new one.
func requestIDFor(r *http.Request) string {
	return observe.RequestID(r.Header.Get(observe.RequestIDHeader))
}

// opRecord is what is known of one request to the handler: one operation,
// or several when the caller batches them (they run concurrently).
type opRecord struct {
	obs       *observer
	start     time.Time // the request's arrival
	requestID string
	span      trace.Span // nil when tracing is off

	mu    sync.Mutex
	ops   []*opResult // by position in the request; ops[0] from the start
	first opResult    // ops[0], without an allocation of its own
	one   [1]*opResult

	upstreamTime busyClock // with Server-Timing on (servertiming.go)
}

// opResult is one operation's outcome. An operation runs from the request's
// arrival to its response being written; in a batch, to its own answer
// being ready.
type opResult struct {
	recorded bool   // its response, or a refusal in its place, was recorded
	known    bool   // the document parsed and named an operation that exists
	name     string // the operation's name ("" when anonymous), or the name the caller asked for when not known
	opType   string // query, mutation, subscription; "" when not known
	outcome  observe.Outcome
	hasData  bool           // the response holds data
	apqMiss  bool           // an APQ miss: logged, not counted
	apq      bool           // an APQ lookup was made: the answer depends on the store
	codes    []string       // distinct extensions.code values, in order of appearance
	byCode   map[string]int // how many errors had each code
	errors   int

	to       time.Time // when a batch's operation's answer was ready
	upstream upstreamCount
}

// upstreamCount is how the upstream requests of an operation were answered
// (restclient.WithAnswerReport): by HTTP exchanges of its own, retries
// included, by identical calls of other operations already in flight, or
// by the response cache.
// Hedges (restclient.AnswerHedged) are among the exchanges sent, and
// counted apart as well.
type upstreamCount struct{ sent, shared, cached, hedged atomic.Int64 }

func (c *upstreamCount) add(_ string, a restclient.Answer) {
	switch a {
	case restclient.AnswerSent:
		c.sent.Add(1)
	case restclient.AnswerShared:
		c.shared.Add(1)
	case restclient.AnswerCached:
		c.cached.Add(1)
	case restclient.AnswerHedged:
		c.hedged.Add(1)
	}
}

type opRecordKey struct{}

// recordFrom is the request's record: in its state (the handler's
// requests), else a context value of its own.
func recordFrom(ctx context.Context) *opRecord {
	if st, ok := stateFrom(ctx); ok && st.rec != nil {
		return st.rec
	}
	rec, _ := ctx.Value(opRecordKey{}).(*opRecord)
	return rec
}

// begin opens a request's record, continues the caller's trace and starts
// the request's span. The returned function closes it: metrics, span end,
// and a log line per operation.
func (o *observer) begin(ctx context.Context, r *http.Request, requestID string) (context.Context, func()) {
	start, ok := arrivalFrom(ctx)
	if !ok {
		start = time.Now()
	}
	rec := &opRecord{obs: o, start: start, requestID: requestID}
	rec.one[0] = &rec.first
	rec.ops = rec.one[:]
	if o.tracing != nil {
		ctx = o.tracing.Extract(ctx, r.Header)
		if o.tracing.Enabled() {
			// The name is refined once the operation is known; this one is
			// what OpenTelemetry's GraphQL conventions use for the unknown.
			ctx, rec.span = o.tracing.Tracer().Start(ctx, "GraphQL Operation",
				trace.WithSpanKind(trace.SpanKindServer),
				trace.WithTimestamp(start),
				trace.WithAttributes(
					attribute.String("http.request.method", r.Method),
					attribute.String("salesgraph.request_id", requestID),
				))
		}
	}
	if st, ok := stateFrom(ctx); ok {
		st.rec = rec
	} else {
		ctx = context.WithValue(ctx, opRecordKey{}, rec)
	}
	inFlightDone := o.metrics.OperationStarted()
	return ctx, func() {
		inFlightDone()
		rec.finish(ctx)
	}
}

// op returns operation i's result, made if the record has none yet.
func (rec *opRecord) op(i int) *opResult {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.opLocked(i)
}

func (rec *opRecord) opLocked(i int) *opResult {
	for len(rec.ops) <= i {
		rec.ops = append(rec.ops, &opResult{})
	}
	return rec.ops[i]
}

// opInterceptor reads each response as the executor produces it, including
// the error responses of documents that do not parse or validate.
type opInterceptor struct{}

var (
	_ graphql.HandlerExtension    = opInterceptor{}
	_ graphql.ResponseInterceptor = opInterceptor{}
)

func (opInterceptor) ExtensionName() string                   { return "Observability" }
func (opInterceptor) Validate(graphql.ExecutableSchema) error { return nil }
func (opInterceptor) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if rec := recordFrom(ctx); rec != nil && resp != nil {
		i, _ := gqlhttp.OperationIndex(ctx)
		known, name, opType := false, "", ""
		if graphql.HasOperationContext(ctx) {
			oc := graphql.GetOperationContext(ctx)
			if oc.Operation != nil {
				known, name, opType = true, oc.Operation.Name, string(oc.Operation.Operation)
			} else {
				name = oc.OperationName
			}
		}
		switch gqlhttp.PayloadFrom(ctx) {
		case gqlhttp.PayloadSubsequent:
			// A deferred payload belongs to the operation whose initial
			// payload was recorded: one operation, one log line.
			rec.amend(i, resp.Errors, false)
		case gqlhttp.PayloadDiscarded:
		default:
			rec.add(i, known, name, opType, resp.Errors, len(resp.Data) > 0 && string(resp.Data) != "null")
		}
	}
	return resp
}

// noteRefusal records errors the endpoint answers with before any
// operation runs (a method or media type it refuses, an unreadable body),
// or in place of the whole response (a panic in the transport), so that
// they are logged and counted with their codes, and gives each the request
// id: gqlhttp's OnRefused, called just before such errors are written.
func noteRefusal(ctx context.Context, errs gqlerror.List) {
	if rec := recordFrom(ctx); rec != nil {
		rec.amend(0, errs, true)
	}
}

// add records operation i's response; every error in it gets the request
// id, including those gqlgen and the argument check make before the error
// presenter's table applies.
func (rec *opRecord) add(i int, known bool, name, opType string, errs gqlerror.List, hasData bool) {
	now := time.Now()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	res := rec.opLocked(i)
	res.recorded, res.known, res.name, res.opType, res.hasData, res.to = true, known, name, opType, hasData, now
	rec.addErrorsLocked(res, errs)
}

// addErrorsLocked gives errs the request id, counts their codes and sets
// the outcome they make.
func (rec *opRecord) addErrorsLocked(res *opResult, errs gqlerror.List) {
	for _, e := range errs {
		if e.Extensions == nil {
			e.Extensions = make(map[string]any, 2)
		}
		if _, ok := e.Extensions["requestId"]; !ok {
			e.Extensions["requestId"] = rec.requestID
		}
		code, _ := e.Extensions["code"].(string)
		res.addCode(code)
	}
	switch {
	case res.errors == 0:
		res.outcome = observe.OutcomeOK
	case res.hasData:
		res.outcome = observe.OutcomePartial
	default:
		res.outcome = observe.OutcomeError
	}
}

// amend records errors of operation i that its first response did not
// hold (a deferred payload's), or, with replace, that the endpoint sent in
// its place. An operation not recorded yet (the executor answered nothing,
// as for a cancelled request) is recorded now, unknown.
func (rec *opRecord) amend(i int, errs gqlerror.List, replace bool) {
	now := time.Now()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	res := rec.opLocked(i)
	if !res.recorded {
		res.recorded, res.to = true, now
	}
	if replace {
		res.codes, res.byCode, res.errors, res.hasData = nil, nil, 0, false
	}
	rec.addErrorsLocked(res, errs)
}

// noteSent records that the endpoint sent errs in place of operation i's
// response (a RESPONSE_TOO_LARGE refusal, an internal error), so that the
// operation is logged and counted with what the client got, and errs carry
// the request id: gqlhttp's OnReplaced, called just before errs are
// encoded. i is the operation's position in the request.
func noteSent(ctx context.Context, i int, errs gqlerror.List) {
	if rec := recordFrom(ctx); rec != nil {
		rec.amend(i, errs, true)
	}
}

// noteAdded records errors the endpoint added to operation i's response
// (the summary of errors left out, a deferred payload refused for its
// size): gqlhttp's OnAdded.
func noteAdded(ctx context.Context, i int, errs gqlerror.List) {
	if rec := recordFrom(ctx); rec != nil && len(errs) > 0 {
		rec.amend(i, errs, false)
	}
}

// noteAPQ counts an automatic persisted query lookup (gqlhttp's OnAPQ). A
// miss is APQ's normal first step, not a failure: its operation i is logged
// as such and left out of the operation and error counts.
func noteAPQ(ctx context.Context, i int, result gqlhttp.APQResult) {
	rec := recordFrom(ctx)
	if rec == nil {
		return
	}
	rec.obs.metrics.APQ(string(result))
	if i < 0 {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	op := rec.opLocked(i)
	op.apq, op.apqMiss = true, op.apqMiss || result == gqlhttp.APQMiss
}

func (r *opResult) addCode(code string) {
	if code == "" {
		code = "UNSPECIFIED"
	}
	if r.byCode == nil {
		r.byCode = make(map[string]int, 2)
	}
	if r.byCode[code] == 0 {
		r.codes = append(r.codes, code)
	}
	r.byCode[code]++
	r.errors++
}

// finish records the request's operations once its response is written.
func (rec *opRecord) finish(ctx context.Context) {
	now := time.Now()
	o := rec.obs
	rec.mu.Lock()
	defer rec.mu.Unlock()
	batch := len(rec.ops) > 1
	var sent int64
	for i, op := range rec.ops {
		if !op.recorded {
			// Nothing was answered: gqlgen writes no response for a caller
			// that went away, so CANCELLED is recorded here; other
			// refusals are recorded as errors without a code.
			op.recorded, op.outcome = true, observe.OutcomeError
			if ctx.Err() != nil {
				op.addCode(CodeCancelled)
			}
		}
		to := op.to
		if !batch || to.IsZero() {
			to = now // until the response is written
		}
		d := to.Sub(rec.start)
		o.count(op, d)
		index := -1
		if batch {
			index = i
		}
		o.logOp(ctx, rec.requestID, op, d, index, "")
		sent += op.upstream.sent.Load()
	}
	if ex, ok := ctx.Value(executionKey{}).(*execution); ok && !batch {
		// What the requests this execution answers besides are logged with.
		ex.exec = &execSummary{requestID: rec.requestID, op: rec.ops[0], loaded: loadersUsed(ctx)}
		if rec.span != nil {
			ex.exec.span = rec.span.SpanContext()
		}
	}
	if rec.span != nil {
		rec.endSpan(sent)
	}
}

// count adds an operation to the metrics: an APQ miss is not counted.
func (o *observer) count(op *opResult, d time.Duration) {
	if o.metrics == nil || op.apqMiss {
		return
	}
	o.metrics.Operation(o.metrics.OperationLabel(op.name, op.known), op.outcome, d)
	for code, n := range op.byCode {
		o.metrics.GraphQLErrors(code, n)
	}
}

// logOp writes an operation's line: batchIndex when it is one of a batch
// (index >= 0), sharedWith when a shared execution answered it.
func (o *observer) logOp(ctx context.Context, requestID string, op *opResult, d time.Duration, index int, sharedWith string) {
	// The line's attributes are built only for a level that writes it.
	if !o.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	outcome := op.outcome
	if op.apqMiss {
		outcome = observe.OutcomeAPQMiss
	}
	errCodes := op.codes
	if errCodes == nil {
		errCodes = []string{} // [] rather than null, for log queries
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("requestId", requestID),
		slog.String("operation", logName(op.name)),
		slog.String("operationType", op.opType),
		slog.String("outcome", string(outcome)),
		slog.Float64("durationMs", float64(d.Microseconds())/1000),
		slog.Int64("upstreamCalls", op.upstream.sent.Load()),
		slog.Int64("upstreamShared", op.upstream.shared.Load()),
		slog.Int64("upstreamCached", op.upstream.cached.Load()),
		slog.Int64("upstreamHedged", op.upstream.hedged.Load()),
		slog.Int("errors", op.errors),
		slog.Any("errorCodes", errCodes),
	)
	if index >= 0 {
		attrs = append(attrs, slog.Int("batchIndex", index))
	}
	if sharedWith != "" {
		attrs = append(attrs, slog.String("sharedWith", sharedWith))
	}
	o.log.LogAttrs(ctx, slog.LevelInfo, "graphql operation", attrs...)
}

// operationStarted counts a request in flight that has no record (one
// waiting for a shared execution) until the returned function is called.
func (o *observer) operationStarted() (done func()) {
	if o == nil {
		return func() {}
	}
	return o.metrics.OperationStarted()
}

// execSummary is what a shared execution's record says of its operation,
// for the requests it answers besides the one that started it.
type execSummary struct {
	requestID string
	op        *opResult // not changed once the execution is done
	span      trace.SpanContext
	loaded    bool // it made loaders, the only way to the upstream (opcache.go)
}

// shared records a request that waited for an identical request's
// execution (opshare.go): answered with its response when ex is not nil,
// else gone before it came (CANCELLED). It is logged and counted as an
// operation of its own, with the execution's outcome and errors, none of
// the execution's upstream calls, and the execution's request id as
// sharedWith; with tracing on, its span links to the execution's.
func (o *observer) shared(ctx context.Context, r *http.Request, requestID string, arrived time.Time, ex *execSummary) {
	if o == nil {
		return
	}
	op, sharedWith := &opResult{outcome: observe.OutcomeError}, ""
	if ex != nil {
		// A copy without the counts, which were the execution's.
		op = &opResult{known: ex.op.known, name: ex.op.name, opType: ex.op.opType, outcome: ex.op.outcome,
			hasData: ex.op.hasData, apqMiss: ex.op.apqMiss, codes: ex.op.codes, byCode: ex.op.byCode, errors: ex.op.errors}
		sharedWith = ex.requestID
	} else {
		op.addCode(CodeCancelled)
	}
	if o.tracing.Enabled() {
		var span trace.Span
		ctx, span = o.sharedSpan(ctx, r, requestID, arrived, op, ex)
		defer span.End()
	}
	d := time.Since(arrived)
	o.count(op, d)
	if ex != nil && !op.apqMiss {
		o.metrics.SharedOperation()
	}
	o.logOp(ctx, requestID, op, d, -1, sharedWith)
}

// endSpan names the request's span after its operation (OpenTelemetry's
// GraphQL conventions), or "GraphQL batch" with an event per operation.
func (rec *opRecord) endSpan(calls int64) {
	span := rec.span
	failed := false
	var codes []string
	for _, op := range rec.ops {
		failed = failed || (op.outcome != observe.OutcomeOK && !op.apqMiss)
		codes = append(codes, op.codes...)
	}
	if len(rec.ops) == 1 {
		op := rec.ops[0]
		if op.known {
			span.SetName(spanNameOf(op))
			span.SetAttributes(attribute.String("graphql.operation.type", op.opType))
			if op.name != "" {
				span.SetAttributes(attribute.String("graphql.operation.name", op.name))
			}
		}
		span.SetAttributes(attribute.String("salesgraph.outcome", string(op.outcome)))
	} else {
		span.SetName("GraphQL batch")
		span.SetAttributes(attribute.Int("graphql.batch.size", len(rec.ops)))
		for _, op := range rec.ops {
			span.AddEvent("graphql.operation", trace.WithAttributes(
				attribute.String("graphql.operation.name", op.name),
				attribute.String("salesgraph.outcome", string(op.outcome)),
				attribute.StringSlice("graphql.error.codes", op.codes),
			))
		}
	}
	span.SetAttributes(attribute.Int64("salesgraph.upstream_calls", calls))
	if len(codes) > 0 {
		span.SetAttributes(attribute.StringSlice("graphql.error.codes", codes))
	}
	if failed {
		span.SetStatus(otelcodes.Error, "")
	}
	span.End()
}

// spanNameOf is an operation's span name: OpenTelemetry's GraphQL
// conventions when it is known, else what they use for the unknown.
func spanNameOf(op *opResult) string {
	if !op.known {
		return "GraphQL Operation"
	}
	return spanName(op.opType, op.name)
}

// spanName follows OpenTelemetry's GraphQL conventions: "query Name", or
// the type alone for an anonymous operation.
func spanName(opType, name string) string {
	if name == "" {
		return opType
	}
	return opType + " " + name
}

// logName bounds a caller-chosen name in the log line; names are GraphQL
// names when the document parsed, anything the caller sent otherwise.
func logName(name string) string {
	const max = 100
	if len(name) > max {
		return name[:max] + "…"
	}
	return name
}

// observedCall runs one upstream call for Loaders.call: it counts the call
// in the in-flight gauge, and logs a failure at warn with the request id,
// the endpoint and the code the caller sees. (How the call was answered is
// counted for the operation's log line through restclient.WithAnswerReport.)
func observedCall(ctx context.Context, fn func(context.Context) error) error {
	rec := recordFrom(ctx)
	if rec == nil {
		return fn(ctx)
	}
	rec.obs.metrics.UpstreamCallStarted()
	defer rec.obs.metrics.UpstreamCallDone()
	if rec.obs.timing {
		rec.upstreamTime.start()
		defer rec.upstreamTime.done()
	}
	if rec.obs.tracing.Enabled() && trace.SpanContextFromContext(ctx).IsSampled() {
		ctx = observe.CountAttempts(ctx) // retries' spans say which attempt they are
	}
	err := fn(ctx)
	if err != nil {
		rec.obs.upstreamFailed(ctx, rec, err)
	}
	return err
}

// upstreamFailed logs a failed upstream call. Error texts from restclient
// name the path and status, never the host or a header.
func (o *observer) upstreamFailed(ctx context.Context, rec *opRecord, err error) {
	code, _, _ := classify(ctx, err)
	level := slog.LevelWarn
	switch code {
	case CodeCancelled:
		level = slog.LevelDebug // the caller left; nothing is wrong upstream
	case CodeUpstreamCircuitOpen, CodeUpstreamPathEjected:
		// Refused unsent, by the thousand during an outage: the breaker's
		// changes and the ejections are logged once each (package telemetry),
		// the refusals counted in metrics.
		level = slog.LevelDebug
	}
	if !o.log.Enabled(ctx, level) {
		return
	}
	where := restclient.Classify(err)
	o.log.LogAttrs(ctx, level, "upstream call failed",
		slog.String("requestId", rec.requestID),
		slog.String("endpoint", where.Endpoint),
		slog.String("path", where.Path),
		slog.Int("httpStatus", where.HTTPStatus),
		slog.String("code", code),
		slog.String("error", err.Error()),
	)
}

// batch is the loaders' batch hook: it records the batch's size and, with
// tracing on, opens a span that the batch's upstream calls nest under.
func (o *observer) batch(ctx context.Context, loader string, n int) (context.Context, func()) {
	// Every upstream call runs in a batch: the place to give calls of an
	// incrementally delivered operation back the cancellation its
	// executor's context lacks (gqlhttp.Rejoin).
	ctx = gqlhttp.Rejoin(ctx)
	o.metrics.BatchSize(loader, n)
	if !o.tracing.Enabled() {
		return ctx, func() {}
	}
	ctx, span := o.tracing.Tracer().Start(ctx, "dataloader "+loader, trace.WithAttributes(
		attribute.String("dataloader.name", loader),
		attribute.Int("dataloader.batch_size", n),
	))
	return ctx, func() { span.End() }
}

// loaderCache is a loader's per-operation cache, counting hits (a key the
// operation already asked for, answered or still in flight) and misses when
// the cache hook is set.
func loaderCache[K comparable, V any](cfg *loaderConfig, name string) dataloader.Cache[K, V] {
	c := dataloader.NewCache[K, V]()
	if cfg.onCache == nil {
		return c
	}
	return &countingCache[K, V]{InMemoryCache: c, lookup: cfg.onCache(loaderCacheName(name))}
}

type countingCache[K comparable, V any] struct {
	*dataloader.InMemoryCache[K, V]
	lookup func(hit bool)
}

func (c *countingCache[K, V]) Get(ctx context.Context, key K) (dataloader.Thunk[V], bool) {
	v, ok := c.InMemoryCache.Get(ctx, key)
	c.lookup(ok)
	return v, ok
}

// resolverSpans makes a span per resolver call (fields with a resolver, not
// plain struct fields). Installed only when asked for: it costs.
type resolverSpans struct{ tracer trace.Tracer }

var (
	_ graphql.HandlerExtension = resolverSpans{}
	_ graphql.FieldInterceptor = resolverSpans{}
)

func (resolverSpans) ExtensionName() string                   { return "ResolverSpans" }
func (resolverSpans) Validate(graphql.ExecutableSchema) error { return nil }
func (r resolverSpans) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := r.tracer.Start(ctx, fc.Object+"."+fc.Field.Name, trace.WithAttributes(
		attribute.String("graphql.field.path", fc.Path().String()),
	))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		span.SetStatus(otelcodes.Error, "")
	}
	return res, err
}
