package gqlhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Incremental delivery: @defer, as the GraphQL incremental-delivery
// proposal and Apollo Client's multipart/mixed;deferSpec=20220824 expect.
//
// A client that accepts multipart/mixed gets the operation's initial
// payload as soon as the fields outside deferred fragments are resolved,
// then one part per deferred fragment as it completes:
//
//	---
//	Content-Type: application/json; charset=utf-8
//
//	{"data":{"user":{"id":"7"}},"hasNext":true}
//	---
//	Content-Type: application/json; charset=utf-8
//
//	{"incremental":[{"data":{"threads":{"totalCount":45}},"path":["user"]}],"hasNext":false}
//	-----
//
// gqlgen's executor does the deferring: it resolves each object's deferred
// fields in a goroutine of their own once the object's other fields are
// done, so deferred fragments of different objects load concurrently. This
// file only writes what it produces, through the same caps as every
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
	multipartBoundary   = "-"
	mediaMultipartMixed = `multipart/mixed; boundary="` + multipartBoundary + `"; deferSpec=20220824`
	partHeader          = "Content-Type: " + mediaJSON + "; charset=utf-8\r\n\r\n"
)

// acceptsIncremental reports whether Accept admits multipart/mixed in the
// incremental-delivery format this server speaks: without a spec
// parameter, or with deferSpec=20220824, Apollo Client's.
func acceptsIncremental(values []string) bool {
	if len(values) == 0 {
		return false
	}
	for _, part := range strings.Split(strings.Join(values, ","), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "multipart/mixed" {
			continue
		}
		if v, ok := params["q"]; ok {
			if q, err := strconv.ParseFloat(v, 64); err != nil || q <= 0 || q > 1 {
				continue
			}
		}
		spec, hasSpec := params["deferspec"]
		if hasSpec && spec != "20220824" {
			continue
		}
		if _, sub := params["subscriptionspec"]; sub && !hasSpec {
			continue // Apollo's multipart subscriptions: not a format for @defer
		}
		return true
	}
	return false
}

// usesDefer reports whether op, or a fragment it spreads, has a @defer.
func usesDefer(op *ast.OperationDefinition, doc *ast.QueryDocument) bool {
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

// hasDeferIn follows the document's nesting, which scanDocument bounded.
func hasDeferIn(sel ast.SelectionSet) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if hasDeferIn(s.SelectionSet) {
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

// withoutDefer is a copy of doc without its @defer directives, for a client
// that takes the whole answer at once. doc may be shared (the caches, the
// allow-list): it is not changed.
func withoutDefer(doc *ast.QueryDocument) *ast.QueryDocument {
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
			c.SelectionSet = stripDefer(s.SelectionSet)
			out[i] = &c
		case *ast.InlineFragment:
			c := *s
			c.Directives = dropDefer(s.Directives)
			c.SelectionSet = stripDefer(s.SelectionSet)
			out[i] = &c
		case *ast.FragmentSpread:
			c := *s
			c.Directives = dropDefer(s.Directives)
			out[i] = &c
		default:
			out[i] = s
		}
	}
	return out
}

func dropDefer(ds ast.DirectiveList) ast.DirectiveList {
	if ds.ForName("defer") == nil {
		return ds
	}
	out := make(ast.DirectiveList, 0, len(ds)-1)
	for _, d := range ds {
		if d.Name != "defer" {
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

// maxDeferWalk bounds the fields deferTree visits.
const maxDeferWalk = 20000

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

	// gqlgen sends a nested deferred fragment's payload as soon as it is
	// done, which can be before the payload of the deferred fragment that
	// holds it: a client would find no object at its path. Such a payload
	// waits until the deferred fields above it are delivered.
	deferred  *deferNode
	delivered map[string]bool // deferred fields sent, by pathKey
	waiting   []*graphql.Response
}

// serveIncremental runs an operation and writes its payloads as
// multipart/mixed parts, each as soon as the executor produces it.
func (t *httpTransport) serveIncremental(ctx context.Context, exec graphql.GraphExecutor, rc *graphql.OperationContext, ex *exchange, q *rawRequest, doc *ast.QueryDocument, index int, meter *responseMeter) result {
	opCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	meter.cancel = cancel
	s := &stream{t: t, w: ex.w, rc: http.NewResponseController(ex.w), ex: ex, q: q, doc: doc, index: index, meter: meter, ctx: ctx,
		delivered: map[string]bool{}}
	budget := maxDeferWalk
	s.deferred = deferTree(rc, rc.Operation.SelectionSet, &budget)

	h := ex.w.Header()
	h.Set("Content-Type", mediaMultipartMixed)
	h.Set("X-Content-Type-Options", "nosniff")
	ex.w.WriteHeader(http.StatusOK)

	responses, execCtx := exec.DispatchOperation(detach(opCtx), rc)
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
	// Payloads still waiting are below a deferred field that was never
	// delivered (its object was null): nothing of them can be placed.
	if !s.ended && !s.broken {
		s.write([]byte(partHeader + `{"hasNext":false}` + "\r\n--" + multipartBoundary + "--\r\n"))
	}
	return result{streamed: true}
}

var errStreamEnded = errors.New("gqlhttp: the incremental response ended early")

// deferNode is a response key of the operation, and whether its field is
// deferred in the object that holds it, for some type of that object.
type deferNode struct {
	deferred bool
	children map[string]*deferNode
}

// deferTree collects the operation's fields as execution will, with every
// type condition admitted; budget bounds the walk.
func deferTree(rc *graphql.OperationContext, sel ast.SelectionSet, budget *int) *deferNode {
	n := &deferNode{}
	for _, f := range graphql.CollectFields(rc, sel, nil) {
		if *budget--; *budget <= 0 {
			break
		}
		if n.children == nil {
			n.children = map[string]*deferNode{}
		}
		c := deferTree(rc, f.Selections, budget)
		c.deferred = f.IsDeferred()
		n.children[f.Alias] = c
	}
	return n
}

func pathKey(p ast.Path, field string) string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case ast.PathName:
			b.WriteString(string(e))
		case ast.PathIndex:
			b.WriteString(strconv.Itoa(int(e)))
		}
		b.WriteByte(0)
	}
	b.WriteString(field)
	return b.String()
}

// placeable reports whether every deferred field above path was delivered.
func (s *stream) placeable(path ast.Path) bool {
	n := s.deferred
	for i, e := range path {
		name, ok := e.(ast.PathName)
		if !ok {
			continue
		}
		if n = n.children[string(name)]; n == nil {
			return true
		}
		if n.deferred && !s.delivered[pathKey(path[:i], string(name))] {
			return false
		}
	}
	return true
}

// receive takes a subsequent payload: sent now with every waiting payload
// it makes placeable, or kept waiting. more says the executor has more.
func (s *stream) receive(resp *graphql.Response, more bool) {
	if !s.placeable(resp.Path) {
		s.waiting = append(s.waiting, resp)
		if !more {
			s.sendItems(nil, false)
		}
		return
	}
	ready := []*graphql.Response{resp}
	for i := 0; i < len(ready); i++ {
		for _, k := range topLevelKeys(ready[i].Data) {
			s.delivered[pathKey(ready[i].Path, k)] = true
		}
		rest := s.waiting[:0]
		for _, w := range s.waiting {
			if s.placeable(w.Path) {
				ready = append(ready, w)
			} else {
				rest = append(rest, w)
			}
		}
		s.waiting = rest
	}
	s.sendItems(ready, more)
}

// topLevelKeys lists the member names of the JSON object data, reading no
// deeper than its top level.
func topLevelKeys(data []byte) []string {
	var keys []string
	depth, inString, escaped, start := 0, false, false, 0
	for i, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
				if depth == 1 {
					// A key when a colon follows.
					j := i + 1
					for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
						j++
					}
					if j < len(data) && data[j] == ':' {
						var k string
						if json.Unmarshal(data[start:i+1], &k) == nil {
							keys = append(keys, k)
						}
					}
				}
			}
		case c == '"':
			inString, start = true, i
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return keys
}

// sendInitial writes the initial payload.
func (s *stream) sendInitial(resp *graphql.Response, more bool) {
	errs := s.prepareErrors(resp.Errors)
	data := resp.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	body, err := s.marshal(struct {
		Errors     gqlerror.List   `json:"errors,omitempty"`
		Data       json.RawMessage `json:"data"`
		HasNext    bool            `json:"hasNext"`
		Extensions map[string]any  `json:"extensions,omitempty"`
	}{errs, data, more, resp.Extensions})
	if why := s.refused(body, err); why != nil {
		e := s.refusalError(*why)
		s.t.srv.replaced(s.ctx, s.index, gqlerror.List{e})
		body, _ = json.Marshal(struct {
			Errors  gqlerror.List `json:"errors"`
			HasNext bool          `json:"hasNext"`
		}{gqlerror.List{e}, false})
		more = false
	}
	s.writePart(body, true, more)
}

// sendItems writes one part holding items (or, with none, only whether
// more follow).
func (s *stream) sendItems(items []*graphql.Response, more bool) {
	list := make([]incrementalItem, len(items))
	for i, it := range items {
		data := it.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		path := it.Path
		if path == nil {
			path = ast.Path{}
		}
		list[i] = incrementalItem{Errors: s.prepareErrors(it.Errors), Data: data, Path: path, Label: it.Label, Extensions: it.Extensions}
	}
	var body []byte
	var err error
	if len(list) == 0 {
		body = []byte(fmt.Sprintf(`{"hasNext":%t}`, more))
	} else {
		body, err = s.marshal(struct {
			Incremental []incrementalItem `json:"incremental"`
			HasNext     bool              `json:"hasNext"`
		}{list, more})
	}
	if why := s.refused(body, err); why != nil {
		// The first of the items takes the refusal; the stream ends, since
		// nothing after it could fit either.
		e := s.refusalError(*why)
		e.Path = list[0].Path
		s.t.srv.added(s.ctx, s.index, gqlerror.List{e})
		body, _ = json.Marshal(struct {
			Incremental []incrementalItem `json:"incremental"`
			HasNext     bool              `json:"hasNext"`
		}{[]incrementalItem{{Errors: gqlerror.List{e}, Data: json.RawMessage("null"), Path: list[0].Path, Label: list[0].Label}}, false})
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

// incrementalItem is one deferred fragment's result.
type incrementalItem struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data"`
	Path       ast.Path        `json:"path"`
	Label      string          `json:"label,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
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
