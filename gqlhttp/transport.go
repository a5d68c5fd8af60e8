package gqlhttp

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The HTTP transport: GraphQL over HTTP as the specification
// (graphql/graphql-over-http) says, in front of gqlgen's executor. gqlgen's
// own GET and POST transports read bodies of any size, echo malformed bodies
// into errors, answer "data": null with request errors and run GET without a
// CSRF guard; this one does each step in the order that lets the cheapest
// check refuse first, each in the file named:
//
//	method (405, here) → Accept (406, negotiation.go)
//	→ Content-Type and CSRF (415, 400, csrf.go) → body size (413)
//	→ JSON shape (400, request.go) → persisted operation (404, 403, apq.go)
//	→ tokens and nesting → parse → fragment cycles and static limits
//	→ validation (document.go, limits.go) → variables, then the extensions
//	given to Server.Use (argument checks, cost estimates) → execution (here)
//	→ error count, masking and response size caps (encoding.go, masking.go).
//
// The status of each refusal is codes.go's. The response's size is metered
// while it is built (response_budget.go); an operation with @defer is
// streamed as multipart/mixed to a client that takes it, and answered
// inline to any other (incremental.go); a batch's operations run
// concurrently (batch.go).
//
// Server serves every request through it, straight into gqlgen's
// executor, so the extensions given to Server.Use see every operation.

// httpTransport serves every request of the Server. It has the shape of a
// graphql.Transport, though Server calls it without gqlgen's handler.
type httpTransport struct {
	*preparer
	srv       *Server                      // its hooks
	memory    *responseMemory              // the process-wide budget of responses being built
	docs      *lru.Cache[string, *keptDoc] // checked documents by text
	pinned    map[string]*keptDoc          // the allow-list's documents, by text
	persisted *persisted
	vocab     map[string]bool
	etagKey   [etagKeySize]byte // keys ETags (etag.go)
}

var _ graphql.Transport = (*httpTransport)(nil)

// newTransport builds srv's transport; srv.opts has its defaults and
// passed Validate, and pinned holds its allowed operations, parsed.
func newTransport(srv *Server, schema *ast.Schema, pinned map[string]*ast.QueryDocument) *httpTransport {
	o := &srv.opts
	t := &httpTransport{preparer: newPreparer(o, schema), srv: srv, persisted: newPersisted(o), vocab: schemaVocabulary(schema),
		memory: &responseMemory{limit: o.MaxResponseMemory, srv: srv}, pinned: make(map[string]*keptDoc, len(pinned))}
	for text, doc := range pinned {
		t.pinned[text] = &keptDoc{doc: doc}
	}
	t.docs, _ = lru.New[string, *keptDoc](1000)
	if o.ETags {
		t.etagKey = etagKey(o.ETagSecret)
	}
	return t
}

// Supports claims every request: the transport answers wrong methods itself,
// with 405 and Allow.
func (t *httpTransport) Supports(*http.Request) bool { return true }

func (t *httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := mediaJSON
	var oneMeter [1]*responseMeter // a request that is no batch has one
	meters := oneMeter[:0]
	defer func() {
		for _, m := range meters {
			m.release()
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			id := requestIDOf(r.Context())
			t.srv.logger().ErrorContext(r.Context(), "transport panic", "requestId", id, "panic", fmt.Sprint(v))
			e := requestErr(http.StatusInternalServerError, CodeInternal, "internal error")
			e.always = true
			if id != "" {
				e.errs[0].Extensions["requestId"] = id
			}
			t.writeRefusal(r.Context(), w, media, e)
		}
	}()

	m, jsonOK := negotiate(r.Header.Values("Accept"))
	format := incrementalFormatOf(r.Header.Values("Accept"))
	incremental := format != noIncremental
	acceptable := jsonOK || incremental
	switch {
	case jsonOK:
		media = m
	case incremental:
		// Refusals and errors before execution are not streamed: they get the
		// specification's default media type, with its status codes.
		media = mediaGraphQLResponse
	}
	switch r.Method {
	case http.MethodGet, http.MethodPost, MethodQuery:
	case http.MethodOptions:
		w.Header()["Allow"] = allowedMethods
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		e := transportErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "the GraphQL endpoint accepts GET, POST and QUERY")
		e.allow = allowedMethods[0]
		t.writeRefusal(r.Context(), w, media, e)
		return
	}
	if !acceptable {
		t.writeRefusal(r.Context(), w, media, transportErr(http.StatusNotAcceptable, CodeNotAcceptable,
			"Accept must admit application/graphql-response+json or application/json (or, for incremental delivery, multipart/mixed)"))
		return
	}

	reqs, batch, rerr := t.readRequests(w, r)
	if rerr == nil && batch && !jsonOK {
		rerr = transportErr(http.StatusNotAcceptable, CodeNotAcceptable, "a batch is answered in JSON: Accept must admit application/graphql-response+json or application/json")
	}
	if rerr != nil {
		t.writeRefusal(r.Context(), w, media, rerr)
		return
	}
	ctx := r.Context()
	ex := &exchange{
		w: w, media: media, vocab: t.vocab, header: r.Header,
		safe: safeMethod(r.Method), incremental: incremental && !batch, format: format, jsonOK: jsonOK,
	}
	meter := func(limit int) *responseMeter {
		m := newResponseMeter(limit, t.memory)
		meters = append(meters, m)
		return m
	}
	if !batch {
		res := t.serveOne(ctx, exec, reqs[0], ex, 0, meter(t.opts.MaxResponseBytes), nil)
		if res.streamed {
			t.setTimingTrailer(ctx, w.Header()) // servertiming.go
			return
		}
		if res.allow != "" {
			w.Header().Set("Allow", res.allow)
		}
		if ex.safe != "" && t.opts.ETags && t.validate(w, r, media, &res) { // etag.go
			return // 304
		}
		t.setTiming(ctx, w.Header())
		writeBody(w, media, res.status, res.head, res.data, res.tail)
		return
	}
	// A batch is a body, a POST's or a QUERY's: a QUERY's runs queries only.
	parts := t.serveBatch(ctx, exec, reqs, ex, meter) // batch.go
	t.setTiming(ctx, w.Header())
	writeBody(w, media, http.StatusOK, parts...)
}

// exchange is what the operations of one HTTP request share.
type exchange struct {
	w           http.ResponseWriter
	media       string     // of a response that is not streamed
	redMu       sync.Mutex // held while red is used: a batch's operations are encoded concurrently
	red         *redactor  // made when first needed (redactor): most responses have no error to mask
	vocab       map[string]bool
	header      http.Header
	safe        string            // GET or QUERY: the method, which runs only queries (query_method.go); "" for POST
	incremental bool              // the client accepts multipart/mixed incremental delivery (incremental.go)
	format      incrementalFormat // ... in this format
	jsonOK      bool              // the client accepts a JSON answer
}

// redactor is the request's redactor. Callers hold redMu when operations
// may be encoded concurrently (a batch): the redactor's own state is not
// guarded.
func (ex *exchange) redactor() *redactor {
	if ex.red == nil {
		ex.red = newRedactor(ex.header, ex.vocab)
	}
	return ex.red
}

// serveOne runs one operation of a request. index is the operation's
// position in the request (0, or its place in a batch), which the Server's
// hooks are told; meter bounds its response. prepared, if not nil, is
// called once the operation is ready to execute: the extensions that
// prepare it have run (batch.go).
func (t *httpTransport) serveOne(ctx context.Context, exec graphql.GraphExecutor, q *rawRequest, ex *exchange, index int, meter *responseMeter, prepared func()) result {
	rawQuery := q.query
	var opCtx *graphql.OperationContext // what a refusal is dispatched with; made when needed
	var doc *ast.QueryDocument          // once parsed, for masking its literal values
	refuse := func(e *reqError) result {
		if opCtx == nil {
			opCtx = &graphql.OperationContext{RawQuery: rawQuery, OperationName: q.operationName, Variables: q.variables, Extensions: q.extensions, Headers: ex.header}
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), e.errs)
		res := t.encode(ctx, index, resp, true, ex, q, doc, meter)
		if e.always {
			res.status = e.status
		}
		res.allow = e.allow
		return res
	}

	query, remember, rerr := t.persisted.resolve(ctx, q)
	if rerr != nil {
		res := refuse(rerr)
		if t.persisted.apq != nil && !q.hasDocumentID && rerr.errs[0].Extensions["code"] == CodePersistedQueryNotFound {
			t.srv.apq(ctx, index, APQMiss)
		}
		return res
	}
	rawQuery = query
	doc, memo, rerr := t.document(query, q.operationName, ex.safe)
	if rerr != nil {
		return refuse(rerr)
	}
	op, rerr := selectOperation(doc, q.operationName)
	if rerr == nil && ex.safe != "" {
		rerr = getOnlyQueries(q.operationName, ex.safe)(doc)
	}
	if rerr == nil && !t.opts.Introspection && usesIntrospection(op, doc) {
		rerr = requestErr(http.StatusBadRequest, CodeIntrospectionDisabled, "introspection is disabled on this server")
	}
	if rerr != nil {
		return refuse(rerr)
	}
	if t.persisted.apq != nil {
		if _, hashed, _ := persistedHash(q.extensions); hashed {
			result := APQHit
			if remember != nil {
				result = APQRegistered
			}
			t.srv.apq(ctx, index, result)
		}
	}
	if remember != nil {
		remember()
	}

	// The deferred fragments are delivered incrementally to a client that
	// takes multipart/mixed, and inline to any other (incremental.go).
	deferred := usesIncremental(op, doc) // @defer or @stream
	stream := ex.incremental && (deferred || !ex.jsonOK)
	run := doc
	if deferred && !stream {
		run, memo = withoutIncremental(doc), nil // a document of this request only
	}

	params := &graphql.RawParams{Query: query, OperationName: q.operationName, Variables: q.variables, Extensions: q.extensions, Headers: ex.header}
	now := graphql.Now()
	params.ReadTime.Start, params.ReadTime.End = now, now
	ctx = context.WithValue(ctx, preparedKey{}, &preparedDoc{query: query, doc: run, memo: memo, meter: meter})
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		rewriteVariableErrors(errs, op)
		opCtx = rc
		return refuse(&reqError{status: statusFor(errs), errs: errs})
	}
	if deferred {
		if e := checkStreamCounts(op, doc, rc.Variables); e != nil {
			opCtx = rc
			return refuse(e)
		}
	}
	if prepared != nil {
		prepared()
	}
	if stream {
		return t.serveIncremental(ctx, exec, rc, ex, q, doc, index, meter)
	}
	execCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	meter.cancel = cancel // a response refused for its size stops its resolvers' work
	responses, execCtx := exec.DispatchOperation(execCtx, rc)
	resp := responses(execCtx)
	if resp == nil {
		resp = &graphql.Response{Errors: gqlerror.List{{Message: "the request was cancelled", Extensions: map[string]any{"code": CodeCancelled}}}}
		t.srv.replaced(ctx, index, resp.Errors)
	}
	return t.encode(ctx, index, resp, len(resp.Data) == 0, ex, q, doc, meter)
}
