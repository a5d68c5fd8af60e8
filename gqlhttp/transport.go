package gqlhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// The HTTP transport: GraphQL over HTTP as the specification
// (graphql/graphql-over-http) says, in front of gqlgen's executor. gqlgen's
// own GET and POST transports read bodies of any size, echo malformed bodies
// into errors, answer "data": null with request errors and run GET without a
// CSRF guard; this one does each step in the order that lets the cheapest
// check refuse first:
//
//	method (405) → Accept (406) → Content-Type and CSRF (415, 400)
//	→ body size (413) → JSON shape (400) → persisted operation (404, 403)
//	→ tokens and nesting → parse → fragment cycles and static limits
//	→ validation → variables, then the extensions given to Server.Use
//	(argument checks, cost estimates) → execution → error count, masking
//	and response size caps.
//
// The response's size is metered while it is built (response_budget.go);
// an operation with @defer is streamed as multipart/mixed to a client that
// takes it, and answered inline to any other (incremental.go).
//
// Server serves every request through it, straight into gqlgen's
// executor, so the extensions given to Server.Use see every operation.

// Media types of GraphQL responses.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// The request-level error codes: refusals before execution, and the few
// errors the endpoint makes itself during it.
const (
	CodeBadRequest                 = "BAD_REQUEST"                   // the HTTP request is not a well-formed GraphQL request
	CodeMethodNotAllowed           = "METHOD_NOT_ALLOWED"            // not GET or POST, or a mutation over GET
	CodeNotAcceptable              = "NOT_ACCEPTABLE"                // Accept names no media type the endpoint answers in
	CodeUnsupportedMediaType       = "UNSUPPORTED_MEDIA_TYPE"        // a body that is not application/json in UTF-8
	CodeCSRFPrevented              = "CSRF_PREFLIGHT_REQUIRED"       // a GET without a JSON Content-Type or a preflight header
	CodeRequestTooLarge            = "REQUEST_TOO_LARGE"             // a body over MaxRequestBytes
	CodeBatchingDisabled           = "BATCHING_DISABLED"             // a JSON array of operations, with batching off
	CodeBatchTooLarge              = "BATCH_TOO_LARGE"               // a batch of more than MaxBatchSize operations
	CodeParseFailed                = "GRAPHQL_PARSE_FAILED"          // the document does not parse
	CodeValidationFailed           = "GRAPHQL_VALIDATION_FAILED"     // the document does not validate, or names no runnable operation
	CodeTokenLimit                 = "TOKEN_LIMIT_EXCEEDED"          // more than MaxTokens tokens
	CodeDepthLimit                 = "DEPTH_LIMIT_EXCEEDED"          // fields nested deeper than MaxDepth
	CodeAliasLimit                 = "ALIAS_LIMIT_EXCEEDED"          // more than MaxAliases aliases
	CodeRootFieldLimit             = "ROOT_FIELD_LIMIT_EXCEEDED"     // more than MaxRootFields root fields
	CodeFieldLimit                 = "FIELD_LIMIT_EXCEEDED"          // more than MaxFields field selections
	CodeTooManyErrors              = "TOO_MANY_ERRORS"               // the summary of errors past MaxErrors
	CodeResponseTooLarge           = "RESPONSE_TOO_LARGE"            // a response over MaxResponseBytes
	CodeIntrospectionDisabled      = "INTROSPECTION_DISABLED"        // __schema or __type with introspection off
	CodePersistedQueryNotFound     = "PERSISTED_QUERY_NOT_FOUND"     // a hash this server does not know
	CodePersistedQueryNotSupported = "PERSISTED_QUERY_NOT_SUPPORTED" // a hash, with APQ off
	CodePersistedQueryHashMismatch = "PERSISTED_QUERY_HASH_MISMATCH" // a hash that is not the document's
	CodeOperationNotAllowed        = "OPERATION_NOT_IN_ALLOWLIST"    // allow-list mode, and the document is not on it
	CodeBadUserInput               = "BAD_USER_INPUT"                // a variable's value does not fit its declared type
	CodeCancelled                  = "CANCELLED"                     // the executor answered nothing: the caller went away
	CodeInternal                   = "INTERNAL_SERVER_ERROR"         // a panic or an encoding failure; details are logged, never sent
)

// requestStatus is the HTTP status of a response holding a request error
// (no data) with this code, when the response is
// application/graphql-response+json; any other code is 400. With
// application/json, a well-formed request's response is 200 whatever its
// errors, as the specification says.
var requestStatus = map[string]int{
	CodeBadRequest:                 http.StatusBadRequest,
	CodeMethodNotAllowed:           http.StatusMethodNotAllowed,
	CodeNotAcceptable:              http.StatusNotAcceptable,
	CodeUnsupportedMediaType:       http.StatusUnsupportedMediaType,
	CodeCSRFPrevented:              http.StatusBadRequest,
	CodeRequestTooLarge:            http.StatusRequestEntityTooLarge,
	CodeBatchingDisabled:           http.StatusBadRequest,
	CodeBatchTooLarge:              http.StatusBadRequest,
	CodeParseFailed:                http.StatusBadRequest,
	CodeValidationFailed:           http.StatusBadRequest,
	CodeBadUserInput:               http.StatusBadRequest,
	CodeTokenLimit:                 http.StatusBadRequest,
	CodeDepthLimit:                 http.StatusBadRequest,
	CodeAliasLimit:                 http.StatusBadRequest,
	CodeRootFieldLimit:             http.StatusBadRequest,
	CodeFieldLimit:                 http.StatusBadRequest,
	CodeResponseTooLarge:           http.StatusBadRequest,
	CodeResponseMemory:             http.StatusServiceUnavailable,
	CodeIntrospectionDisabled:      http.StatusBadRequest,
	CodePersistedQueryNotFound:     http.StatusNotFound,
	CodePersistedQueryNotSupported: http.StatusBadRequest,
	CodePersistedQueryHashMismatch: http.StatusBadRequest,
	CodeOperationNotAllowed:        http.StatusForbidden,
	CodeInternal:                   http.StatusInternalServerError,
}

// statusFor is the status of a request-error response with these errors.
func statusFor(errs gqlerror.List) int {
	for _, e := range errs {
		if c, ok := e.Extensions["code"].(string); ok {
			if s, ok := requestStatus[c]; ok {
				return s
			}
		}
	}
	return http.StatusBadRequest
}

// rawRequest is one GraphQL-over-HTTP request's parameters.
type rawRequest struct {
	query         string
	hasQuery      bool
	operationName string
	variables     map[string]any
	extensions    map[string]any
}

// reqError is a refusal before execution.
type reqError struct {
	status int  // the status with application/graphql-response+json
	always bool // the status holds with application/json too: the request is not well-formed, or the specification demands it
	allow  string
	errs   gqlerror.List
	batch  int // > 0: answer a JSON array of this many copies (batchRefusal)
}

func requestErr(status int, code, msg string) *reqError {
	return &reqError{status: status, errs: gqlerror.List{{Message: msg, Extensions: map[string]any{"code": code}}}}
}

// transportErr is a refusal of a request that is not a well-formed GraphQL
// request, whatever the media type.
func transportErr(status int, code, msg string) *reqError {
	e := requestErr(status, code, msg)
	e.always = true
	return e
}

func malformed(msg string) *reqError { return transportErr(http.StatusBadRequest, CodeBadRequest, msg) }

// preparer turns a document's text into a checked, validated document.
type preparer struct {
	opts     *Options
	schema   *ast.Schema
	rules    *rules.Rules
	validate func(*ast.Schema, *ast.QueryDocument, *rules.Rules) gqlerror.List
}

func newPreparer(o *Options, schema *ast.Schema) *preparer {
	p := &preparer{opts: o, schema: schema, rules: validationRules(o.Suggestions), validate: o.test.validate}
	if p.validate == nil {
		p.validate = validator.ValidateWithRules
	}
	return p
}

// validationRules are the specification's rules, with the variants that
// add no "Did you mean …" unless suggestions are wanted: they reveal the
// schema's names to whoever guesses near them.
func validationRules(suggestions bool) *rules.Rules {
	r := rules.NewDefaultRules()
	if suggestions {
		return r
	}
	for name, quiet := range map[string]core.Rule{
		"FieldsOnCorrectType": rules.FieldsOnCorrectTypeRuleWithoutSuggestions,
		"KnownArgumentNames":  rules.KnownArgumentNamesRuleWithoutSuggestions,
		"KnownTypeNames":      rules.KnownTypeNamesRuleWithoutSuggestions,
		"ScalarLeafs":         rules.ScalarLeafsRuleWithoutSuggestions,
		"ValuesOfCorrectType": rules.ValuesOfCorrectTypeRuleWithoutSuggestions,
	} {
		r.RemoveRule(name)
		r.AddRule(quiet.Name, quiet.RuleFunc)
	}
	return r
}

// prepare checks and parses query: tokens and nesting, parse, fragment
// cycles and static limits, then (after beforeValidate, if any) validation.
// A refused document that parsed is returned with the refusal, so that its
// literal values can be masked in the messages.
func (p *preparer) prepare(query string, beforeValidate ...func(*ast.QueryDocument) *reqError) (*ast.QueryDocument, *reqError) {
	if strings.TrimSpace(query) == "" {
		return nil, malformed("the request has no query (a string holding the GraphQL document)")
	}
	if e := p.opts.scanDocument(query); e != nil {
		return nil, &reqError{status: http.StatusBadRequest, errs: gqlerror.List{e}}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, p.opts.MaxTokens)
	if err != nil {
		return nil, &reqError{status: http.StatusBadRequest, errs: gqlerror.List{parseError(err)}}
	}
	if len(doc.Operations) == 0 {
		return doc, requestErr(http.StatusBadRequest, CodeValidationFailed, "the document has no operation")
	}
	for _, f := range beforeValidate {
		if e := f(doc); e != nil {
			return doc, e
		}
	}
	if e := p.opts.checkDocument(doc); e != nil {
		return doc, &reqError{status: http.StatusBadRequest, errs: gqlerror.List{e}}
	}
	if errs := p.validate(p.schema, doc, p.rules); len(errs) > 0 {
		for _, e := range errs {
			e.Extensions = map[string]any{"code": CodeValidationFailed}
		}
		return doc, &reqError{status: http.StatusBadRequest, errs: errs}
	}
	return doc, nil
}

// quoted matches the quoted text in a parser message: token text, which
// may be a string literal holding anything the client sent.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// parseError turns a parser error into a request error that quotes nothing
// of the document: the location says where.
func parseError(err error) *gqlerror.Error {
	out := &gqlerror.Error{Message: "the document does not parse", Extensions: map[string]any{"code": CodeParseFailed}}
	var ge *gqlerror.Error
	if !errors.As(err, &ge) {
		return out
	}
	msg := strings.Join(strings.Fields(quoted.ReplaceAllString(ge.Message, "")), " ")
	if strings.HasPrefix(msg, "exceeded token limit") {
		out.Extensions["code"] = CodeTokenLimit
	}
	if msg != "" && len(msg) <= 200 {
		out.Message = "the document does not parse: " + strings.TrimSuffix(msg, ".")
	}
	out.Locations = ge.Locations
	return out
}

// selectOperation is the specification's GetOperation, with messages that
// do not repeat the requested name back.
func selectOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, *reqError) {
	if name == "" {
		if len(doc.Operations) != 1 {
			return nil, requestErr(http.StatusBadRequest, CodeValidationFailed, "the document holds several operations: operationName must name one")
		}
		return doc.Operations[0], nil
	}
	for _, op := range doc.Operations {
		if op.Name == name {
			return op, nil
		}
	}
	return nil, requestErr(http.StatusBadRequest, CodeValidationFailed, "the document holds no operation with the requested operationName")
}

// getOnlyQueries is the specification's rule that GET never runs a
// mutation: 405, whatever the media type, before the document is validated.
func getOnlyQueries(name string) func(*ast.QueryDocument) *reqError {
	return func(doc *ast.QueryDocument) *reqError {
		op, rerr := selectOperation(doc, name)
		if rerr != nil || op.Operation == ast.Query || op.Operation == "" {
			return nil
		}
		e := transportErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "GET runs only queries; send other operations with POST")
		e.allow = http.MethodPost
		return e
	}
}

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
	case http.MethodGet, http.MethodPost:
	case http.MethodOptions:
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		e := transportErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "the GraphQL endpoint accepts GET and POST")
		e.allow = "GET, POST, OPTIONS"
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
		isGET: r.Method == http.MethodGet, incremental: incremental && !batch, format: format, jsonOK: jsonOK,
	}
	meter := func(limit int) *responseMeter {
		m := newResponseMeter(limit, t.memory)
		meters = append(meters, m)
		return m
	}
	if !batch {
		res := t.serveOne(ctx, exec, reqs[0], ex, 0, meter(t.opts.MaxResponseBytes), nil)
		if res.streamed {
			return
		}
		if res.allow != "" {
			w.Header().Set("Allow", res.allow)
		}
		writeBody(w, media, res.status, res.head, res.data, res.tail)
		return
	}
	ex.isGET = false
	writeBody(w, media, http.StatusOK, t.serveBatch(ctx, exec, reqs, ex, meter)...) // batch.go
}

// exchange is what the operations of one HTTP request share.
type exchange struct {
	w           http.ResponseWriter
	media       string     // of a response that is not streamed
	redMu       sync.Mutex // held while red is used: a batch's operations are encoded concurrently
	red         *redactor  // made when first needed (redactor): most responses have no error to mask
	vocab       map[string]bool
	header      http.Header
	isGET       bool
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

// result is one operation's encoded response: head, data and tail, written
// one after the other so that gqlgen's data, the bulk of it, is never
// copied.
type result struct {
	status   int
	allow    string
	head     []byte
	data     []byte
	tail     []byte
	streamed bool // written already, as multipart/mixed
}

func (r result) size() int { return len(r.head) + len(r.data) + len(r.tail) }

func (r result) parts() [][]byte { return [][]byte{r.head, r.data, r.tail} }

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
		if t.persisted.apq != nil && rerr.errs[0].Extensions["code"] == CodePersistedQueryNotFound {
			t.srv.apq(ctx, index, APQMiss)
		}
		return res
	}
	rawQuery = query
	doc, memo, rerr := t.document(query, q.operationName, ex.isGET)
	if rerr != nil {
		return refuse(rerr)
	}
	op, rerr := selectOperation(doc, q.operationName)
	if rerr == nil && ex.isGET {
		rerr = getOnlyQueries(q.operationName)(doc)
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
	deferred := usesDefer(op, doc)
	stream := ex.incremental && (deferred || !ex.jsonOK)
	run := doc
	if deferred && !stream {
		run, memo = withoutDefer(doc), nil // a document of this request only
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

// document returns query's checked document: from the allow-list, the
// cache, or prepared now (and cached when small enough), with its Memo
// when it is kept.
func (t *httpTransport) document(query, operationName string, isGET bool) (*ast.QueryDocument, *Memo, *reqError) {
	if k, ok := t.pinned[query]; ok {
		return k.doc, &k.memo, nil
	}
	if k, ok := t.docs.Get(query); ok {
		return k.doc, &k.memo, nil
	}
	var checks []func(*ast.QueryDocument) *reqError
	if isGET {
		checks = append(checks, getOnlyQueries(operationName))
	}
	doc, rerr := t.prepare(query, checks...)
	if rerr != nil {
		return doc, nil, rerr
	}
	if len(query) > maxRememberedQuery {
		return doc, nil, nil
	}
	k := &keptDoc{doc: doc}
	t.docs.Add(query, k)
	return doc, &k.memo, nil
}

// keptDoc is a checked document the transport keeps, and what extensions
// remember of it.
type keptDoc struct {
	doc  *ast.QueryDocument
	memo Memo
}

// Memo is where the extensions given to Server.Use remember what they
// computed from a document the endpoint keeps parsed, for as long as it
// keeps it: an argument check or a cost estimate of an operation that
// depends on nothing but the document (it declares no variables) need not
// run again for the next request. DocumentMemo returns it. What is stored
// must be bounded by the document (an entry per operation, say), and
// immutable: concurrent requests read it.
type Memo struct{ m sync.Map }

// Load returns the value stored for key; a nil Memo holds nothing.
func (m *Memo) Load(key any) (any, bool) {
	if m == nil {
		return nil, false
	}
	return m.m.Load(key)
}

// Store remembers value for key; a nil Memo forgets it.
func (m *Memo) Store(key, value any) {
	if m != nil {
		m.m.Store(key, value)
	}
}

// DocumentMemo is the Memo of the document of the operation ctx belongs
// to, for extensions; nil when the endpoint does not keep the document
// (too large to cache, or rewritten for this request), or outside an
// operation.
func DocumentMemo(ctx context.Context) *Memo {
	if p, ok := ctx.Value(preparedKey{}).(*preparedDoc); ok {
		return p.memo
	}
	return nil
}

// rewriteVariableErrors replaces gqlparser's variable coercion messages,
// which quote the value the client sent and Go's names for its JSON types
// ("cannot use float64 as Int"), by one that names the variable and its
// declared type. They are BAD_USER_INPUT, as in Apollo Server.
func rewriteVariableErrors(errs gqlerror.List, op *ast.OperationDefinition) {
	for _, e := range errs {
		if len(e.Path) < 2 || e.Path[0] != ast.PathName("variable") {
			continue
		}
		name, _ := e.Path[1].(ast.PathName)
		where := ""
		for _, p := range e.Path[2:] {
			switch p := p.(type) {
			case ast.PathName:
				where += "." + string(p)
			case ast.PathIndex:
				where += "[" + strconv.Itoa(int(p)) + "]"
			}
		}
		if where != "" {
			// Quoted: "at type" would read as English, not as a field.
			where = " at " + strconv.Quote(strings.TrimPrefix(where, "."))
		}
		reason := e.Message
		switch reason {
		case "cannot be null", "must be defined", "unknown field":
		default:
			reason = "not a valid value"
		}
		msg := fmt.Sprintf("variable $%s%s: %s", name, where, reason)
		if op != nil {
			if def := op.VariableDefinitions.ForName(string(name)); def != nil {
				msg += " (expected " + def.Type.String() + ")"
				if def.Position != nil {
					e.Locations = []gqlerror.Location{{Line: def.Position.Line, Column: def.Position.Column}}
				}
			}
		}
		e.Message = msg
		e.Path = nil
		e.Extensions = map[string]any{"code": CodeBadUserInput}
	}
}

// readRequests reads the request's parameters: one operation, or a batch.
func (t *httpTransport) readRequests(w http.ResponseWriter, r *http.Request) ([]*rawRequest, bool, *reqError) {
	present, isJSON := requestMediaType(r)
	if r.Method == http.MethodGet {
		switch {
		case present && !isJSON:
			return nil, false, transportErr(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "a GET request must have no Content-Type or application/json")
		case !present && !t.opts.hasPreflightHeader(r):
			return nil, false, transportErr(http.StatusBadRequest, CodeCSRFPrevented,
				"this request was refused as a possible cross-site request forgery: send Content-Type: application/json or one of these headers: "+strings.Join(t.opts.CSRFHeaders, ", "))
		}
		q, rerr := readGET(r.URL.RawQuery)
		if rerr != nil {
			return nil, false, rerr
		}
		return []*rawRequest{q}, false, nil
	}
	if !isJSON {
		return nil, false, transportErr(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "a POST body must be application/json (UTF-8)")
	}
	if r.ContentLength > t.opts.MaxRequestBytes {
		return nil, false, t.tooLarge()
	}
	var body []byte
	if pre, ok := r.Body.(*prereadBody); ok {
		body = pre.rest()
		if int64(len(body)) > t.opts.MaxRequestBytes {
			return nil, false, t.tooLarge()
		}
	} else {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, t.opts.MaxRequestBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, false, t.tooLarge()
			}
			return nil, false, malformed("the request body could not be read")
		}
	}
	body = bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(body) == 0:
		return nil, false, malformed("the request body is empty; it must be a JSON object with a query")
	case body[0] == '[':
		return t.readBatch(body)
	case body[0] != '{':
		return nil, false, malformed("the request body must be a JSON object with a query")
	}
	q, rerr := readPOST(body)
	if rerr != nil {
		return nil, false, rerr
	}
	return []*rawRequest{q}, false, nil
}

// tooLarge refuses a body over MaxRequestBytes.
func (t *httpTransport) tooLarge() *reqError {
	return transportErr(http.StatusRequestEntityTooLarge, CodeRequestTooLarge, fmt.Sprintf("the request body is larger than %d bytes", t.opts.MaxRequestBytes))
}

// PrereadBody is a request body for the endpoint that a handler in front
// of it has read whole already (to key the request, say): the transport
// reads what is left of it in place, where it would copy a body it reads.
// body must not change until the request is answered. The size limit
// still applies.
func PrereadBody(body []byte) io.ReadCloser {
	p := &prereadBody{whole: body}
	p.Reset(body)
	return p
}

type prereadBody struct {
	bytes.Reader
	whole []byte
}

func (*prereadBody) Close() error { return nil }

// rest is what has not been read of the body.
func (p *prereadBody) rest() []byte { return p.whole[len(p.whole)-p.Len():] }

func (t *httpTransport) readBatch(body []byte) ([]*rawRequest, bool, *reqError) {
	var items []json.RawMessage
	if err := decodeJSON(body, &items); err != nil {
		return nil, true, malformed("the request body is not valid JSON")
	}
	switch {
	case len(items) == 0:
		return nil, true, malformed("the batch is empty")
	case !t.opts.Batching:
		return nil, true, batchRefusal(len(items), CodeBatchingDisabled, "this server does not accept batches (a JSON array of operations): send one operation per request")
	case len(items) > t.opts.MaxBatchSize:
		return nil, true, batchRefusal(len(items), CodeBatchTooLarge, fmt.Sprintf("a batch may hold at most %d operations", t.opts.MaxBatchSize))
	}
	out := make([]*rawRequest, len(items))
	for i, it := range items {
		q, rerr := readPOST(it)
		if rerr != nil {
			rerr.errs[0].Message = fmt.Sprintf("batch entry %d: %s", i, rerr.errs[0].Message)
			return nil, true, rerr
		}
		out[i] = q
	}
	return out, true, nil
}

// maxBatchRefusal bounds the copies batchRefusal answers with: clients batch
// a handful of operations, and a request of a million tiny entries must not
// earn a million error objects.
const maxBatchRefusal = 100

// batchRefusal refuses a whole batch of n operations. Batching clients
// (Apollo's BatchHttpLink and others) match answers to operations by
// position and reject an answer of another length, which would hide the
// code; so the answer is an array holding the refusal once per operation,
// or one object past maxBatchRefusal entries.
func batchRefusal(n int, code, msg string) *reqError {
	e := transportErr(http.StatusBadRequest, code, msg)
	if n <= maxBatchRefusal {
		e.batch = n
	}
	return e
}

// decodeJSON decodes exactly one JSON value, numbers as json.Number.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// readPOST reads the JSON encoding of a request: an object whose query is
// a string, operationName a string, variables and extensions objects, each
// optional or null. Unknown members are reserved by the specification and
// ignored.
func readPOST(body []byte) (*rawRequest, *reqError) {
	m, ok := postMembers(body)
	if !ok {
		return nil, malformed("the request body is not a valid JSON object")
	}
	q := &rawRequest{}
	str := func(raw []byte, into *string) bool {
		if raw == nil || string(raw) == "null" {
			return true
		}
		if s, ok := plainString(raw); ok {
			*into = s
			return true
		}
		return json.Unmarshal(raw, into) == nil
	}
	if !str(m[memberQuery], &q.query) {
		return nil, malformed("query must be a string")
	}
	q.hasQuery = q.query != ""
	if !str(m[memberOperationName], &q.operationName) {
		return nil, malformed("operationName must be a string")
	}
	if q.variables, ok = object(m[memberVariables]); !ok {
		return nil, malformed("variables must be a JSON object")
	}
	if q.extensions, ok = object(m[memberExtensions]); !ok {
		return nil, malformed("extensions must be a JSON object")
	}
	return q, nil
}

// The members of a request object that mean something.
const (
	memberQuery = iota
	memberOperationName
	memberVariables
	memberExtensions
	members
)

// postMembers returns the raw values of the members of body, a JSON
// object, that name a request parameter (nil when absent), or ok false
// when body is not one JSON object (white space aside). A member given
// twice is its last value, as when decoding into a map; names are
// compared unescaped. The values are body's own bytes: decoding the body
// into a map of raw messages copied each and built the map, to look at
// four names.
func postMembers(body []byte) (m [members][]byte, ok bool) {
	if !json.Valid(body) {
		return m, false
	}
	// body is valid JSON from here on: the walk needs no checks.
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return m, false
	}
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		keyStart, keyEnd := i, skipValue(body, i)
		key := body[keyStart+1 : keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			_ = json.Unmarshal(body[keyStart:keyEnd], &k) // a valid string: cannot fail
			key = []byte(k)
		}
		i = skipSpace(body, skipSpace(body, keyEnd)+1) // past the colon
		valueEnd := skipValue(body, i)
		slot := -1
		switch string(key) {
		case "query":
			slot = memberQuery
		case "operationName":
			slot = memberOperationName
		case "variables":
			slot = memberVariables
		case "extensions":
			slot = memberExtensions
		}
		if slot >= 0 {
			m[slot] = body[i:valueEnd]
		}
		i = skipSpace(body, valueEnd)
	}
	return m, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value at b[i], valid JSON.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		return i + 1
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
		i++
	}
	return i
}

// plainString is the value of raw, valid JSON, when it is a string with no
// escapes in valid UTF-8, which is what a query usually is: json.Unmarshal
// would give the same string through a decoder of its own.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') >= 0 || !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// object decodes an optional JSON object.
func object(raw []byte) (map[string]any, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	if raw[0] != '{' {
		return nil, false
	}
	var m map[string]any
	if err := decodeJSON(raw, &m); err != nil {
		return nil, false
	}
	return m, true
}

// readGET reads the URL-query encoding of a request; variables and
// extensions are JSON text. A parameter given twice is ambiguous.
func readGET(rawQuery string) (*rawRequest, *reqError) {
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, malformed("the URL query is not valid application/x-www-form-urlencoded")
	}
	for _, k := range []string{"query", "operationName", "variables", "extensions"} {
		if len(vals[k]) > 1 {
			return nil, malformed(k + " appears more than once in the URL")
		}
	}
	q := &rawRequest{query: vals.Get("query"), operationName: vals.Get("operationName")}
	q.hasQuery = q.query != ""
	var ok bool
	if q.variables, ok = object([]byte(vals.Get("variables"))); !ok {
		return nil, malformed("variables must be a JSON object")
	}
	if q.extensions, ok = object([]byte(vals.Get("extensions"))); !ok {
		return nil, malformed("extensions must be a JSON object")
	}
	return q, nil
}

// negotiate picks the response media type from Accept: the supported type
// with the highest q, where a type's q comes from the most specific range
// that matches it (RFC 9110 section 12.5.1); ties go to the more specific
// match, then to application/graphql-response+json. No Accept at all means
// application/graphql-response+json, as the specification says since 2025.
func negotiate(values []string) (string, bool) {
	header := strings.Join(values, ",")
	if strings.TrimSpace(header) == "" {
		return mediaGraphQLResponse, true
	}
	type match struct {
		q     float64
		spec  int
		found bool
	}
	var gr, js match
	for _, part := range strings.Split(header, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			continue
		}
		for _, c := range []struct {
			m   *match
			typ string
		}{{&gr, mediaGraphQLResponse}, {&js, mediaJSON}} {
			spec := -1
			switch mt {
			case c.typ:
				spec = 2
			case "application/*":
				spec = 1
			case "*/*":
				spec = 0
			}
			if spec >= 0 && (!c.m.found || spec > c.m.spec) {
				*c.m = match{q: q, spec: spec, found: true}
			}
		}
	}
	okGR, okJS := gr.found && gr.q > 0, js.found && js.q > 0
	switch {
	case okGR && okJS:
		if js.q > gr.q || (js.q == gr.q && js.spec > gr.spec) {
			return mediaJSON, true
		}
		return mediaGraphQLResponse, true
	case okGR:
		return mediaGraphQLResponse, true
	case okJS:
		return mediaJSON, true
	}
	return "", false
}

// wireResponse is a GraphQL response as sent: errors first, and no data
// member at all for a request error, as the specification requires.
type wireResponse struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

// defaultCodes gives every error a code: INTERNAL_SERVER_ERROR for any
// that has none.
func defaultCodes(errs gqlerror.List) {
	for _, e := range errs {
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		if c, _ := e.Extensions["code"].(string); c == "" {
			e.Extensions["code"] = CodeInternal
		}
	}
}

// encode applies the response caps and masking and encodes resp, operation
// index of the request. requestError says the response has no data. doc is
// the operation's document, when it parsed, for the masking of its literal
// values. Encoding stops at the first part that would take the response past
// what meter allows; gqlgen's data is measured, never copied.
func (t *httpTransport) encode(ctx context.Context, index int, resp *graphql.Response, requestError bool, ex *exchange, q *rawRequest, doc *ast.QueryDocument, meter *responseMeter) result {
	if f := t.opts.test.encoded; f != nil {
		f(len(resp.Data))
	}
	if meter.failed() != meterOK {
		return t.refusal(ctx, index, ex.media, meter.refusal())
	}
	errs := resp.Errors
	defaultCodes(errs)
	if len(errs) > t.opts.MaxErrors {
		keep := t.opts.MaxErrors - 1
		summary := &gqlerror.Error{
			Message:    fmt.Sprintf("%d more errors were left out; this response shows the first %d", len(errs)-keep, keep),
			Extensions: map[string]any{"code": CodeTooManyErrors},
		}
		t.srv.added(ctx, index, gqlerror.List{summary})
		errs = append(errs[:keep:keep], summary)
	}
	if len(errs) > 0 {
		ex.redMu.Lock()
		red := ex.redactor()
		red.addRequest(q, doc)
		for _, e := range errs {
			red.scrubError(e)
			e.Message = clip(e.Message)
		}
		ex.redMu.Unlock()
	}

	head := &limitedBuffer{max: meter.remaining()}
	var data, tail []byte
	err := func() error {
		_ = head.WriteByte('{')
		if len(errs) > 0 {
			if _, err := head.WriteString(`"errors":[`); err != nil {
				return err
			}
			for i, e := range errs {
				b, err := json.Marshal(e)
				if err != nil {
					return err
				}
				if i > 0 {
					if err := head.WriteByte(','); err != nil {
						return err
					}
				}
				if _, err := head.Write(b); err != nil {
					return err
				}
			}
			if err := head.WriteByte(']'); err != nil {
				return err
			}
		}
		if !requestError {
			if len(errs) > 0 {
				_ = head.WriteByte(',')
			}
			if _, err := head.WriteString(`"data":`); err != nil {
				return err
			}
			data = resp.Data
			if len(data) == 0 {
				data = []byte("null")
			}
			if head.Len()+len(data) > head.max {
				return errLimit
			}
			if !t.opts.CompactData && looseWhitespace(data) {
				// Raw JSON a resolver passed through (from an upstream) may be indented;
				// the response is compact, as json.Marshal would make it.
				var c bytes.Buffer
				if err := json.Compact(&c, data); err != nil {
					return err
				}
				data = c.Bytes()
			}
		}
		tail = []byte("}")
		if len(resp.Extensions) > 0 {
			b, err := json.Marshal(resp.Extensions)
			if err != nil {
				return err
			}
			sep := `,"extensions":`
			if head.Len() == 1 && data == nil {
				sep = sep[1:] // nothing before it
			}
			tail = append(append([]byte(sep), b...), '}')
		}
		return nil
	}()
	switch {
	case errors.Is(err, errLimit) || (err == nil && !meter.fits(head.Len()+len(data)+len(tail))):
		return t.refusal(ctx, index, ex.media, meter.refusal()) // too large, unless the budget was what failed
	case err != nil:
		t.srv.logger().ErrorContext(ctx, "response encoding failed", "requestId", requestIDOf(ctx), "error", err.Error())
		return t.refusal(ctx, index, ex.media, refusalText{CodeInternal, "internal error"})
	}
	meter.sent(head.Len() + len(data) + len(tail))
	status := http.StatusOK
	if requestError && ex.media == mediaGraphQLResponse {
		status = statusFor(errs)
	}
	return result{status: status, head: head.Bytes(), data: data, tail: tail}
}

// looseWhitespace reports whether data, valid JSON, has white space outside
// its strings.
func looseWhitespace(data []byte) bool {
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ', c == '\t', c == '\n', c == '\r':
			return true
		}
	}
	return false
}

// maxMessage bounds one error message: validation messages quote names
// from the document, and a name can be a megabyte long.
const maxMessage = 500

// clip shortens s to at most maxMessage bytes, at a character boundary.
func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// refusal is the response that replaces operation index's: a request error
// with this code, recorded as what the operation answered.
func (t *httpTransport) refusal(ctx context.Context, index int, media string, why refusalText) result {
	code := why.code
	e := &gqlerror.Error{Message: why.msg, Extensions: map[string]any{"code": code}}
	if code == CodeResponseTooLarge {
		e.Extensions["limit"] = t.opts.MaxResponseBytes
	}
	errs := gqlerror.List{e}
	t.srv.replaced(ctx, index, errs)
	body, _ := json.Marshal(wireResponse{Errors: errs})
	status := http.StatusOK
	if media == mediaGraphQLResponse {
		status = requestStatus[code]
	}
	return result{status: status, head: body}
}

// writeRefusal answers a request refused before any operation ran. Its
// messages are constant text: nothing of the request is repeated. The
// OnRefused hook is told first, so that what it adds to the errors (a
// request id) is sent.
func (t *httpTransport) writeRefusal(ctx context.Context, w http.ResponseWriter, media string, e *reqError) {
	t.srv.refused(ctx, e.errs)
	body, _ := json.Marshal(wireResponse{Errors: e.errs})
	if e.batch > 0 {
		body = append([]byte{'['}, bytes.Repeat(append(body, ','), e.batch)...)
		body[len(body)-1] = ']'
	}
	status := e.status
	if !e.always && media == mediaJSON {
		status = http.StatusOK
	}
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	writeBody(w, media, status, body)
}

func writeBody(w http.ResponseWriter, media string, status int, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	h := w.Header()
	if ct, ok := contentTypeOfMedia[media]; ok {
		h["Content-Type"] = ct
	} else {
		h.Set("Content-Type", media+"; charset=utf-8")
	}
	h["X-Content-Type-Options"] = noSniff
	h.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(status)
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return
		}
	}
}

// preparedDoc is the document the transport checked for this operation,
// and the meter its response is charged to: one context value for both,
// since every field's charge looks the meter up.
type preparedDoc struct {
	query string
	doc   *ast.QueryDocument
	memo  *Memo // nil: the document is not kept
	meter *responseMeter
}

type preparedKey struct{}

// docHook is the gqlgen server's query cache. It hands gqlgen the document
// the transport already checked, so gqlgen never parses or validates a
// document itself. Should anything reach the executor without the
// transport, it gets a document without operations, which gqlgen refuses:
// no unchecked text is ever parsed.
type docHook struct{}

var _ graphql.Cache[*ast.QueryDocument] = docHook{}

func (docHook) Get(ctx context.Context, key string) (*ast.QueryDocument, bool) {
	if p, ok := ctx.Value(preparedKey{}).(*preparedDoc); ok && p.query == key {
		return p.doc, true
	}
	return &ast.QueryDocument{}, true
}

func (docHook) Add(context.Context, string, *ast.QueryDocument) {}
