package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/salesgraph/salesgraph/flight"
	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/observe"
)

// Answers remembered: the answers of operations that need no upstream call
// (part of sharing operations, opshare.go, and off with it).
//
// An operation that makes no upstream call computes its answer from the
// request alone: `{ user(id: 7) { id } }` echoes its argument, `{
// __typename }` names a type. Such an answer is the same for the same
// request every time, so after one execution has shown it, the next
// requests identical to it are answered with its bytes, without reading
// the document, executing or encoding. This is the fixed cost of a request
// that matters when the operation itself costs nothing (Q4 of the shared
// benchmark, docs/contributors/performance.md).
//
// Identical means what it means for sharing in flight: the same method,
// URL and body (variables included) and the same headers, every one but
// the per-request ones (flight.PerRequest), so the credential too; the
// answers are keyed by the same salted SHA-256 (flight.Key), which holds no
// credential. Keying on the credential costs a second caller one execution
// and keeps the rule simple: no caller is ever handed an answer made for
// another caller's request, whatever the answer depends on.
//
// An answer is remembered only when nothing but the request can have
// shaped it:
//   - the estimate gave its operation no upstream call (the body is in
//     localOps), and the execution made no loaders, the only way to the
//     upstream (so no upstream answer, error or stale mark is in it);
//   - it is a 200 in JSON, exactly {"data":{…}}: no errors (a deadline, a
//     refusal, a panic's), no extensions, not streamed (@defer to a client
//     that takes multipart is never local: opShare.read);
//   - no APQ lookup was made (the store can forget the hash) and the body
//     is not a batch;
//   - it is at most maxAnswerBytes long; at most maxAnswers are kept, the
//     least recently used dropped first.
//
// Each request answered from memory is still a request of its own: it
// gets its own request id (X-Request-Id), is counted in
// salesgraph_graphql_operations_total and the duration histogram, is
// logged with the execution's outcome, no upstream calls and the request
// id of the execution that made the answer (sharedWith), gets a span of
// its own linked to the execution's when tracing is on, and is counted as
// a hit of the "operation_answers" cache
// (salesgraph_cache_lookups_total). Headers that belong to one response
// (perResponse) are not replayed.

const (
	maxAnswers     = maxLocalOps
	maxAnswerBytes = maxLocalOpSize // bodies: 2 MiB at most in all
	answersCache   = "operation_answers"
)

// answer is a remembered response.
type answer struct {
	header http.Header // as the endpoint wrote it, less perResponse's; values shared (clipped)
	body   []byte
	exec   *execSummary // the execution that made it: its operation, request id and span
}

func newAnswers() *lru.Cache[flight.Key, *answer] {
	c, _ := lru.New[flight.Key, *answer](maxAnswers) // cannot fail: the size is positive
	return c
}

// perResponse says whether a response header describes one response only
// and is not replayed: its request id (set anew for each request), and
// timings.
func perResponse(name string) bool {
	switch name {
	case observe.RequestIDHeader, "Server-Timing", "Date":
		return true
	}
	return false
}

// answerLocal serves a request whose operation needs no upstream call
// (its body is in localOps): from memory when an identical request's
// answer is remembered, else executed, its answer remembered when it
// qualifies.
func (m *middleware) answerLocal(w http.ResponseWriter, r *http.Request, body []byte) {
	arrived := m.share.now()
	key := m.share.flights.Key(r.Method, r.URL.RequestURI(), body, r.Header)
	if a, ok := m.share.answers.Get(key); ok {
		m.share.lookup(true)
		m.share.tell("memory")
		m.replay(w, r, a, arrived)
		return
	}
	m.share.lookup(false)
	ex := &execution{}
	rec := &answerRecorder{ResponseWriter: w}
	m.serve(rec, withBody(r, body, context.WithValue(withArrival(r.Context(), arrived), executionKey{}, ex)))
	if a := rec.answer(ex); a != nil {
		m.share.answers.Add(key, a)
	}
}

// replay answers r with a, under r's own request id, and records r as an
// operation of its own.
func (m *middleware) replay(w http.ResponseWriter, r *http.Request, a *answer, arrived time.Time) {
	done := m.obs.operationStarted()
	id := requestIDFor(r)
	h := w.Header()
	for k, vs := range a.header {
		h[k] = vs // clipped: whoever appends to it copies it
	}
	h[observe.RequestIDHeader] = []string{id}
	if m.obs.timing {
		// Its own time, and no upstream call: what the endpoint would
		// have said of an execution that made none.
		total := m.share.now().Sub(arrived)
		var buf [3]gqlhttp.TimingMetric
		ms := appendTimings(append(buf[:0], gqlhttp.TimingMetric{Name: "total", Dur: total}), total, 0, 0, 0, 0)
		h["Server-Timing"] = []string{gqlhttp.ServerTimingValue(ms...)}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
	done()
	m.obs.remembered(r.Context(), r, id, arrived, a.exec)
}

// remembered records a request answered from memory with ex's answer:
// counted, logged and traced as an operation of its own, with ex's
// outcome (which is ok, without errors or upstream calls) and ex's
// request id as sharedWith.
func (o *observer) remembered(ctx context.Context, r *http.Request, requestID string, arrived time.Time, ex *execSummary) {
	if o.tracing.Enabled() {
		var span trace.Span
		ctx, span = o.sharedSpan(ctx, r, requestID, arrived, ex.op, ex)
		defer span.End()
	}
	d := time.Since(arrived)
	o.count(ex.op, d) // ex.op is read only: its upstream counts are all zero
	o.logOp(ctx, requestID, ex.op, d, -1, ex.requestID)
}

// answerRecorder passes a response through to the client while keeping a
// copy of it, up to maxAnswerBytes, to be remembered.
type answerRecorder struct {
	http.ResponseWriter
	status   int
	header   http.Header // the headers as the response started
	body     []byte
	overflow bool
}

func (a *answerRecorder) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
		a.header = a.ResponseWriter.Header().Clone()
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *answerRecorder) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	if !a.overflow {
		if len(a.body)+len(p) > maxAnswerBytes {
			a.overflow, a.body = true, nil
		} else {
			a.body = append(a.body, p...)
		}
	}
	return a.ResponseWriter.Write(p)
}

// answer is the recorded response as an answer to remember, or nil when it
// does not qualify (see above). ex is the execution's, filled in by the
// estimate (noteEstimate) and the record (opRecord.finish).
func (a *answerRecorder) answer(ex *execution) *answer {
	s := ex.exec
	if a.status != http.StatusOK || a.overflow || len(a.body) == 0 || !ex.local() || s == nil || s.loaded {
		return nil
	}
	op := s.op
	if !op.recorded || !op.known || op.outcome != observe.OutcomeOK || op.errors != 0 || op.apq ||
		op.upstream.sent.Load()+op.upstream.shared.Load()+op.upstream.cached.Load() != 0 {
		return nil
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/graphql-response+json") {
		return nil
	}
	if !onlyData(a.body) {
		return nil
	}
	h := make(http.Header, len(a.header))
	for k, vs := range a.header {
		if !perResponse(k) {
			h[k] = slices.Clip(vs)
		}
	}
	return &answer{header: h, body: a.body, exec: s}
}

// onlyData says that body is a GraphQL response holding data, an object,
// and nothing else: no errors, no extensions.
func onlyData(body []byte) bool {
	if !bytes.HasPrefix(body, []byte(`{"data":{`)) {
		return false
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return false
	}
	_, ok := members["data"]
	return ok && len(members) == 1
}

// sharedSpan starts the span of a request answered by ex's execution (in
// flight, or from memory), linked to the execution's span, with op its
// outcome.
func (o *observer) sharedSpan(ctx context.Context, r *http.Request, requestID string, arrived time.Time, op *opResult, ex *execSummary) (context.Context, trace.Span) {
	var links []trace.Link
	sharedWith := ""
	if ex != nil {
		sharedWith = ex.requestID
		if ex.span.IsValid() {
			links = append(links, trace.Link{SpanContext: ex.span})
		}
	}
	ctx, span := o.tracing.Tracer().Start(o.tracing.Extract(ctx, r.Header), spanNameOf(op),
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(arrived),
		trace.WithLinks(links...),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("salesgraph.request_id", requestID),
			attribute.String("salesgraph.shared_with", sharedWith),
			attribute.String("salesgraph.outcome", string(op.outcome)),
		))
	if op.outcome != observe.OutcomeOK {
		span.SetStatus(otelcodes.Error, "")
	}
	return ctx, span
}

// loadersUsed says that the request ctx belongs to made any list's
// loaders: the only way its operations reach the upstream.
func loadersUsed(ctx context.Context) bool {
	st, ok := stateFrom(ctx)
	if !ok {
		return true // not known: assume the worst
	}
	for i := range st.loaders.lists {
		if st.loaders.lists[i].made.Load() {
			return true
		}
	}
	return false
}
