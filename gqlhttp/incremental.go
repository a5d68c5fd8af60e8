package gqlhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Incremental delivery: @defer, in the two multipart/mixed formats of
// the incremental-delivery proposal that clients speak (incremental_wire.go).
//
// A client that accepts one of them gets the operation's initial payload as
// soon as the fields outside deferred fragments are resolved, then a part
// per batch of completed fragments, each written as soon as the executor
// produces it:
//
//	---
//	Content-Type: application/json; charset=utf-8
//
//	{"data":{"user":{"id":"7"}},"pending":[{"id":"0","path":["user"]}],"hasNext":true}
//	---
//	Content-Type: application/json; charset=utf-8
//
//	{"incremental":[{"id":"0","data":{"threads":{"totalCount":45}}}],"completed":[{"id":"0"}],"hasNext":false}
//	-----
//
// gqlgen's executor does the deferring: it resolves each object's deferred
// fields in a goroutine of their own once the object's other fields are
// done, so deferred fragments of different objects load concurrently.
// incremental_defer.go decides what each part holds (a deferred field in
// its fragment's part only, a nested fragment after the part that holds its
// object); this file writes the parts through the same caps as every
// response: error count, masking, response size, and the Server's hooks.
//
// A client that accepts only JSON gets the whole answer in one body: the
// @defer directives are removed from a copy of the document before it
// runs, which the proposal allows (a server may always deliver deferred
// data inline).

// The multipart/mixed boundary. Apollo Client and gqlgen use "-"; JSON
// never holds a line break outside a string, nor "---" anywhere, so no
// payload can contain the delimiter.
const (
	multipartBoundary = "-"
	partHeader        = "Content-Type: " + mediaJSON + "; charset=utf-8\r\n\r\n"
)

// usesIncremental reports whether op, or a fragment it spreads, has a
// @defer or a @stream.
func usesIncremental(op *ast.OperationDefinition, doc *ast.QueryDocument) bool {
	if hasDeferIn(op.SelectionSet) {
		return true
	}
	frags := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		frags[f.Name] = f
	}
	reached := map[string]bool{}
	markReached(op.SelectionSet, frags, reached)
	for name := range reached {
		if hasDeferIn(frags[name].SelectionSet) {
			return true
		}
	}
	return false
}

// hasDeferIn (or a @stream) follows the document's nesting, which scanDocument bounded.
func hasDeferIn(sel ast.SelectionSet) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.Directives.ForName("stream") != nil || hasDeferIn(s.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if s.Directives.ForName("defer") != nil || hasDeferIn(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Directives.ForName("defer") != nil {
				return true
			}
		}
	}
	return false
}

// withoutIncremental is a copy of doc without its @defer and @stream
// directives, for a client that takes the whole answer at once. doc may be shared (the caches, the
// allow-list): it is not changed.
func withoutIncremental(doc *ast.QueryDocument) *ast.QueryDocument {
	out := *doc
	out.Operations = make(ast.OperationList, len(doc.Operations))
	for i, op := range doc.Operations {
		c := *op
		c.SelectionSet = stripDefer(op.SelectionSet)
		out.Operations[i] = &c
	}
	out.Fragments = make(ast.FragmentDefinitionList, len(doc.Fragments))
	for i, f := range doc.Fragments {
		c := *f
		c.SelectionSet = stripDefer(f.SelectionSet)
		out.Fragments[i] = &c
	}
	return &out
}

func stripDefer(sel ast.SelectionSet) ast.SelectionSet {
	if sel == nil {
		return nil
	}
	out := make(ast.SelectionSet, len(sel))
	for i, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			c := *s
			c.Directives = dropDirective(s.Directives, "stream")
			c.SelectionSet = stripDefer(s.SelectionSet)
			out[i] = &c
		case *ast.InlineFragment:
			c := *s
			c.Directives = dropDirective(s.Directives, "defer")
			c.SelectionSet = stripDefer(s.SelectionSet)
			out[i] = &c
		case *ast.FragmentSpread:
			c := *s
			c.Directives = dropDirective(s.Directives, "defer")
			out[i] = &c
		default:
			out[i] = s
		}
	}
	return out
}

func dropDirective(ds ast.DirectiveList, name string) ast.DirectiveList {
	if ds.ForName(name) == nil {
		return ds
	}
	out := make(ast.DirectiveList, 0, len(ds)-1)
	for _, d := range ds {
		if d.Name != name {
			out = append(out, d)
		}
	}
	return out
}

// detached is the context an incrementally delivered operation's executor
// runs under: the operation's values, but never done. gqlgen sends each
// deferred payload on an unbuffered channel in a select that also watches
// the context, while the generated Exec receives without one: once the
// context is done, a payload can be dropped and its reader wait forever.
// Under a context that is never done nothing is dropped, the transport reads
// every payload to the end, and the resolvers' work gets the operation's
// cancellation back through Rejoin. Value passes every key through,
// including the one context.Cause uses, so an error's classification still
// sees why the operation ended.
type detached struct{ context.Context }

func (detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (detached) Done() <-chan struct{}       { return nil }
func (detached) Err() error                  { return nil }

type operationCtxKey struct{}

// detach returns ctx's detached form; Rejoin undoes it below.
func detach(ctx context.Context) context.Context {
	return detached{context.WithValue(ctx, operationCtxKey{}, ctx)}
}

// Rejoin gives a context below the executor of an incrementally delivered
// operation, which never ends by itself, the operation's deadline and
// cancellation back, keeping its own values. Resolvers call it where work
// that should stop with the operation starts (an upstream call, a batch of
// them), and where they ask why the operation ended (context.Cause). Any
// other context is returned as it is.
func Rejoin(ctx context.Context) context.Context {
	if ctx.Done() != nil {
		return ctx
	}
	op, ok := ctx.Value(operationCtxKey{}).(context.Context)
	if !ok {
		return ctx
	}
	return joined{Context: ctx, op: op}
}

type joined struct {
	context.Context // values
	op              context.Context
}

func (j joined) Deadline() (time.Time, bool) { return j.op.Deadline() }
func (j joined) Done() <-chan struct{}       { return j.op.Done() }
func (j joined) Err() error                  { return j.op.Err() }

type payloadKey struct{}

// Payload says which response of an operation a gqlgen response
// interceptor is reading.
type Payload int

const (
	// PayloadInitial is an operation's response, or the first payload of
	// one delivered incrementally.
	PayloadInitial Payload = iota
	// PayloadSubsequent is a deferred fragment's payload: its errors belong
	// to the operation whose initial payload came before.
	PayloadSubsequent
	// PayloadDiscarded is read after the response ended, and never sent.
	PayloadDiscarded
)

// PayloadFrom is the payload being read under ctx, for a response
// interceptor that records one operation once however many payloads it has.
func PayloadFrom(ctx context.Context) Payload {
	v, _ := ctx.Value(payloadKey{}).(Payload)
	return v
}

// stream is one incrementally delivered response being written.
type stream struct {
	t      *httpTransport
	w      http.ResponseWriter
	rc     *http.ResponseController
	ex     *exchange
	q      *rawRequest
	doc    *ast.QueryDocument
	index  int // the operation's index in the request's record
	meter  *responseMeter
	ctx    context.Context // the operation's, for the record
	errors int             // errors sent so far, for MaxErrors
	capped bool            // the summary of errors left out was sent
	broken bool            // writing failed: the client is gone
	ended  bool            // the closing delimiter was written
	enc    payloadEncoder
	d      *deferrals
}

// serveIncremental runs an operation and writes its payloads as
// multipart/mixed parts, each as soon as the executor produces it.
func (t *httpTransport) serveIncremental(ctx context.Context, exec graphql.GraphExecutor, rc *graphql.OperationContext, ex *exchange, q *rawRequest, doc *ast.QueryDocument, index int, meter *responseMeter) result {
	opCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	meter.cancel = cancel
	reg := newStreamRegistry()
	s := &stream{t: t, w: ex.w, rc: http.NewResponseController(ex.w), ex: ex, q: q, doc: doc, index: index, meter: meter, ctx: ctx,
		enc: payloadEncoder{format: ex.format}, d: newDeferrals(newDeferPlan(rc, t.schema), reg)}

	h := ex.w.Header()
	h.Set("Content-Type", ex.format.mediaType())
	h.Set("X-Content-Type-Options", "nosniff")
	ex.w.WriteHeader(http.StatusOK)

	responses, execCtx := exec.DispatchOperation(detach(context.WithValue(opCtx, streamsKey{}, reg)), rc)
	first := true
	for {
		readCtx := execCtx
		switch {
		case s.ended || s.broken:
			readCtx = context.WithValue(execCtx, payloadKey{}, PayloadDiscarded)
		case !first:
			readCtx = context.WithValue(execCtx, payloadKey{}, PayloadSubsequent)
		}
		resp := responses(readCtx)
		if resp == nil {
			break
		}
		if !s.ended && !s.broken {
			more := resp.HasNext != nil && *resp.HasNext
			if first {
				s.sendInitial(resp, more)
			} else {
				s.receive(resp, more)
			}
			if s.ended || s.broken {
				// Nothing more will be sent: stop the work, and read what
				// is still coming (under the detached context, every
				// deferred payload is delivered and must be taken).
				cancel(errStreamEnded)
			}
		}
		first = false
	}
	if first {
		// The executor produced nothing at all: say so, as a response would.
		s.sendInitial(&graphql.Response{Errors: gqlerror.List{{Message: "the request was cancelled", Extensions: map[string]any{"code": CodeCancelled}}}}, false)
	}
	if !s.ended && !s.broken {
		// The executor stopped without saying it had: what is held is final.
		var p part
		s.d.finish()
		s.d.settle(&p)
		s.sendPart(&p, false)
	}
	return result{streamed: true}
}

var errStreamEnded = errors.New("gqlhttp: the incremental response ended early")

// sendInitial writes the initial payload, without its deferred fields,
// and the fragments already complete (those the executor resolved with
// their objects) in a part right after it. more says the executor has
// more.
func (s *stream) sendInitial(resp *graphql.Response, more bool) {
	var p part
	data := s.d.initial(resp.Data, &p)
	if !more {
		s.d.finish()
	}
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	errs := s.prepareErrors(resp.Errors)
	body, err := s.marshal(s.enc.initial(errs, data, resp.Extensions, p.announced, s.d.more()))
	if why := s.refused(body, err); why != nil {
		e := s.refusalError(*why)
		s.t.srv.replaced(s.ctx, s.index, gqlerror.List{e})
		body, _ = json.Marshal(struct {
			Errors  gqlerror.List `json:"errors"`
			HasNext bool          `json:"hasNext"`
		}{gqlerror.List{e}, false})
		s.writePart(body, true, false)
		return
	}
	s.writePart(body, true, s.d.more())
	if !s.ended {
		var next part
		s.d.settle(&next)
		if !next.empty() || !s.d.more() {
			s.sendPart(&next, s.d.more())
		}
	}
}

// receive takes a subsequent payload of the executor's, and writes what it
// completes, if anything. more says the executor has more.
func (s *stream) receive(resp *graphql.Response, more bool) {
	var p part
	s.d.receive(resp, &p)
	if !more {
		s.d.finish()
	}
	s.d.settle(&p)
	if !p.empty() || !s.d.more() {
		s.sendPart(&p, s.d.more())
	}
}

// sendPart writes a subsequent payload holding p (or, with nothing in it,
// only whether more follow).
func (s *stream) sendPart(p *part, more bool) {
	for i := range p.completed {
		p.completed[i].errors = s.prepareErrors(p.completed[i].errors)
	}
	body, err := s.marshal(s.enc.subsequent(p, more))
	if why := s.refused(body, err); why != nil {
		// The first result takes the refusal; the stream ends, since
		// nothing after it could fit either.
		e := s.refusalError(*why)
		s.t.srv.added(s.ctx, s.index, gqlerror.List{e})
		body, _ = json.Marshal(s.enc.refusal(p, e))
		more = false
	}
	s.writePart(body, false, more)
}

// refused says why a payload cannot be sent, or nil.
func (s *stream) refused(body []byte, err error) *refusalText {
	var why refusalText
	switch {
	case s.meter.failed() != meterOK:
		why = s.meter.refusal()
	case errors.Is(err, errLimit) || (err == nil && !s.meter.fits(len(body)+len(partHeader)+16)):
		why = s.meter.refusal() // too large, unless the budget was what failed
	case err != nil:
		s.t.srv.logger().ErrorContext(s.ctx, "response encoding failed", "requestId", requestIDOf(s.ctx), "error", err.Error())
		why = refusalText{CodeInternal, "internal error"}
	default:
		return nil
	}
	return &why
}

func (s *stream) refusalError(why refusalText) *gqlerror.Error {
	e := &gqlerror.Error{Message: why.msg, Extensions: map[string]any{"code": why.code}}
	if why.code == CodeResponseTooLarge {
		e.Extensions["limit"] = s.t.opts.MaxResponseBytes
	}
	return e
}

// writePart writes one part and the delimiter after it: the next part's,
// or the closing one, so that a client knows at once that the part is whole.
func (s *stream) writePart(body []byte, initial, more bool) {
	var part bytes.Buffer
	if initial {
		part.WriteString("--" + multipartBoundary + "\r\n")
	}
	part.WriteString(partHeader)
	part.Write(body)
	part.WriteString("\r\n--" + multipartBoundary)
	if more {
		part.WriteString("\r\n")
	} else {
		part.WriteString("--\r\n")
		s.ended = true
	}
	s.write(part.Bytes())
}

func (s *stream) write(b []byte) {
	if s.broken {
		return
	}
	s.meter.sent(len(b))
	if _, err := s.w.Write(b); err != nil {
		s.broken = true
		return
	}
	if err := s.rc.Flush(); err != nil {
		s.broken = true
	}
}

// prepareErrors applies the response's error cap across all payloads and
// masks what is kept. The last of the MaxErrors places is kept for the
// summary, since later payloads may bring more.
func (s *stream) prepareErrors(errs gqlerror.List) gqlerror.List {
	defaultCodes(errs)
	limit := s.t.opts.MaxErrors
	switch {
	case s.capped:
		return nil
	case s.errors+len(errs) > limit-1:
		keep := max(limit-1-s.errors, 0)
		summary := &gqlerror.Error{
			Message:    fmt.Sprintf("this response shows at most %d errors: %d of this payload and any of later ones are left out", limit, len(errs)-keep),
			Extensions: map[string]any{"code": CodeTooManyErrors},
		}
		s.t.srv.added(s.ctx, s.index, gqlerror.List{summary})
		errs = append(errs[:keep:keep], summary)
		s.capped = true
	}
	s.errors += len(errs)
	if len(errs) > 0 {
		red := s.ex.redactor()
		red.addRequest(s.q, s.doc)
		for _, e := range errs {
			red.scrubError(e)
			e.Message = clip(e.Message)
		}
	}
	return errs
}

// marshal encodes a payload into a buffer that refuses to grow past what
// the response may still hold.
func (s *stream) marshal(v any) ([]byte, error) {
	lw := &limitedBuffer{max: s.meter.remaining()}
	enc := json.NewEncoder(lw)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(lw.Bytes(), []byte("\n")), nil
}
