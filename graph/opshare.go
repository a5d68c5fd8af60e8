package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/salesgraph/salesgraph/flight"
	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/observe"
)

// Sharing identical operations in flight (Options.DisableOperationSharing
// turns it off).
//
// Frontends that poll, or many users opening the same screen, send the
// same request at the same moment. Rather than execute each, a request
// identical to one being executed waits for that execution and is answered
// with its response: status, headers (its own X-Request-Id) and body,
// byte for byte. Identical means the same method, URL and body and the same
// headers, by canonical name with all their values in order (the
// credential, every forwarded header, Accept and the CSRF headers among
// them), except the per-request ones (flight.PerRequest: X-Request-Id,
// Traceparent, Tracestate and Baggage); as for upstream calls
// (restclient/share.go), naming what to leave out means that a header
// nobody thought of can only cost sharing. The executions in flight are
// keyed by a salted SHA-256 (flight.Key), which holds no credential.
//
// Only single operations of GET, POST and QUERY requests answered in one
// piece are shared: a body that is a batch (a JSON array), a request that
// accepts multipart/mixed or an event stream, or a body over
// MaxRequestBytes is executed on its own. The
// schema has no mutations or subscriptions, so every shared operation is a
// query. Whatever the execution answered is handed over, errors and
// refusals included, with each request's own id in place of the
// execution's wherever the body's errors name it (extensions.requestId):
// the same request, asked at the same moment, would have got the same
// answer, and executing it again for each request waiting would multiply
// the load exactly when the upstream fails. Only a response that was
// streamed or never written (a panic) is not handed over: each waiting
// request then executes on its own.
//
// Requests join an execution until its response starts; it is buffered
// only when some did.
//
// Every request has its own deadline, OperationTimeout from its arrival,
// waiting included: the execution runs under the deadline of the request
// that started it, which arrived first, so it usually answers the others
// well within theirs. A request whose deadline passes while it waits
// stops waiting and executes on its own, out of time: its upstream calls
// fail at once, and it is answered with OPERATION_TIMEOUT as any request
// whose deadline passes. One that executes on its own after waiting (a
// response not handed over) has only what is left of its deadline.
//
// An operation that needs no upstream call is not shared in flight: its
// answer is remembered instead (opcache.go). Once an execution's estimate
// (estimate.go) gave its operation no upstream call, a request with the
// same method and body (for GET, the same URL query) is known to need none
// and goes to answerLocal; the estimate depends on nothing else (the
// document, an APQ hash's or an allowed operation's included, and the
// variables are in the body). Such requests are each logged and counted.
//
// The execution runs detached from the request that started it (the
// operation deadline still bounds it) and is cancelled only when every
// request waiting for it has gone; a request whose client goes away stops
// waiting at once. It is logged, traced and counted under the id of the
// request that started it; each request it answers besides is logged and
// counted too, as an operation of its own with the execution's outcome and
// errors and the execution's request id (sharedWith), and counted in
// salesgraph_graphql_operations_shared_total (observe.go); so is a request
// that stopped waiting because its client went away (CANCELLED).

type opShare struct {
	maxBody int64
	flights flight.Group[*execution]
	local   localOps
	// answers are the remembered answers of operations that need no
	// upstream call (opcache.go); lookup counts hits and misses.
	answers *lru.Cache[flight.Key, *answer]
	lookup  func(hit bool)

	// event, when set (by tests: Options.test), is told "join" each time
	// a request joins an execution in flight, "leave" each time one stops
	// waiting, "alone" each time one that waited executes on its own (its
	// deadline passed, or the response could not be handed over), "local"
	// each time one is not shared because its operation needs no upstream
	// call, and "memory" each time such a one is answered from memory.
	event func(event string)
	// now is the clock that dates a shared request's arrival, which its
	// deadline counts from; tests move it.
	now func() time.Time
}

func newOpShare(maxBody int64, hooks testHooks, lookup func(hit bool)) *opShare {
	s := &opShare{maxBody: maxBody, event: hooks.opShareEvent, now: hooks.opShareNow, answers: newAnswers(), lookup: lookup}
	if s.now == nil {
		s.now = time.Now
	}
	s.local.post, s.local.get = map[string]struct{}{}, map[string]struct{}{}
	if s.event != nil {
		s.flights.OnLeave = func() { s.event("leave") }
	}
	return s
}

func (s *opShare) tell(event string) {
	if s.event != nil {
		s.event(event)
	}
}

// localOps are the requests (POST bodies, GET URL queries) whose
// operation needs no upstream call. It is bounded: past maxLocalOps
// entries it starts again empty, so that junk cannot pin it and what is
// asked for often is soon back.
type localOps struct {
	mu        sync.RWMutex
	post, get map[string]struct{}
}

const (
	maxLocalOps    = 1000
	maxLocalOpSize = 2 << 10 // bytes of a body or URL query kept: 2 MiB at most in all
)

func (l *localOps) has(r *http.Request, body []byte) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if r.Method == http.MethodGet {
		_, ok := l.get[r.URL.RawQuery]
		return ok
	}
	_, ok := l.post[string(body)]
	return ok
}

func (l *localOps) add(r *http.Request, body []byte) {
	m, k := l.post, string(body)
	if r.Method == http.MethodGet {
		m, k = l.get, r.URL.RawQuery
	}
	if len(k) > maxLocalOpSize {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(m) >= maxLocalOps {
		clear(m)
	}
	m[k] = struct{}{}
}

// execution is one shared execution: what the estimate says of it, what
// its record says (observe.go), and its response.
type execution struct {
	// estimated says that the estimate priced the execution's operation,
	// and calls is the upstream calls it gave (noteEstimate).
	estimated atomic.Bool
	calls     atomic.Int64
	// exec is what the execution's record says of it, set before it ends.
	exec *execSummary
	resp *sharedResponse
}

type executionKey struct{}

// noteEstimate tells the shared execution ctx belongs to, if any, that
// the estimate gave one of its operations calls upstream calls.
func noteEstimate(ctx context.Context, calls int64) {
	if ex, ok := ctx.Value(executionKey{}).(*execution); ok {
		ex.calls.Add(calls)
		ex.estimated.Store(true)
	}
}

// local says that the execution's operation needs no upstream call.
func (ex *execution) local() bool { return ex.estimated.Load() && ex.calls.Load() == 0 }

// read returns the request's body, or ok false when the request is not to
// be shared. out is the request to execute, whose body is whole again, or
// nil when the caller is to make it (whole), if it executes it at all: an
// answer from memory does not.
func (s *opShare) read(r *http.Request) (body []byte, out *http.Request, ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != gqlhttp.MethodQuery {
		return nil, r, false
	}
	for _, a := range r.Header.Values("Accept") {
		if strings.Contains(a, "multipart") || strings.Contains(a, "event-stream") {
			return nil, r, false
		}
	}
	if r.ContentLength > s.maxBody {
		return nil, r, false // refused unread by the transport
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, r, true
	}
	body, err := readBody(r.Body, r.ContentLength, s.maxBody)
	if err != nil || int64(len(body)) > s.maxBody {
		out = r.WithContext(r.Context()) // a shallow copy, for its own Body
		// The transport answers it as it would have: what was read,
		// then the rest.
		out.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		return nil, out, false
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		return nil, withBody(r, body, r.Context()), false // a batch
	}
	return body, nil, true
}

// withBody is r with ctx, and with body, read from r, as its body again.
func withBody(r *http.Request, body []byte, ctx context.Context) *http.Request {
	out := r.WithContext(ctx) // a shallow copy, for its own Body
	if body != nil {
		out.Body = gqlhttp.PrereadBody(body)
	}
	return out
}

// readBody reads body, of the declared length (-1: not known), up to one
// byte past max. A body of known length is read into a buffer of that
// size, and one byte more to learn that it ends there.
func readBody(body io.Reader, length, max int64) ([]byte, error) {
	if length < 0 || length > max {
		return io.ReadAll(io.LimitReader(body, max+1))
	}
	buf := make([]byte, length+1)
	n, err := io.ReadFull(body, buf)
	switch {
	case err == nil: // longer than it said
		rest, err := io.ReadAll(io.LimitReader(body, max-length))
		return append(buf, rest...), err
	case int64(n) < length:
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf[:n], err
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return buf[:n], nil
	}
	return buf[:n], err
}

// ServeHTTP shares identical operations in flight (see above), executing
// each through serve. The request that starts an execution runs it on its
// own goroutine, as an unshared request would, so that sharing costs a
// request that comes alone no hand-off: if its client goes away, it stops
// counting as a waiter at once (the execution is cancelled if it was the
// last), but its goroutine stays until the execution ends.
func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.share == nil {
		m.serve(w, r)
		return
	}
	if r.Context().Err() != nil {
		m.serve(w, r) // gone already: answered and logged as always
		return
	}
	body, out, ok := m.share.read(r)
	if !ok {
		m.serve(w, out)
		return
	}
	if m.share.local.has(r, body) {
		m.share.tell("local")
		m.answerLocal(w, r, body) // opcache.go
		return
	}
	if out == nil {
		out = withBody(r, body, r.Context())
	}
	r = out
	arrived := m.share.now()
	key := m.share.flights.Key(r.Method, r.URL.RequestURI(), body, r.Header)
	f, started := m.share.flights.Join(withArrival(r.Context(), arrived), key)
	if !started {
		m.share.tell("join")
		m.wait(w, r, f, arrived)
		return
	}
	ex := f.Run(r.Context(), func(ctx context.Context) *execution {
		return m.execute(w, f, r.WithContext(ctx))
	})
	if ex.local() {
		m.share.local.add(r, body)
	}
	if ex.resp.panic != nil {
		panic(ex.resp.panic) // after the waiters were let go
	}
	if ex.resp.buffered {
		ex.resp.writeTo(w, "") // its own response, request id included
	}
}

// wait answers a request that joined execution f: with its response, or
// on its own once its deadline passes or when the response cannot be
// handed over.
func (m *middleware) wait(w http.ResponseWriter, r *http.Request, f *flight.Call[*execution], arrived time.Time) {
	waiting := m.obs.operationStarted()
	deadline, cancel := context.WithDeadline(r.Context(), arrived.Add(m.cfg.OperationTimeout))
	defer cancel()
	ex, err := f.Wait(deadline) // the answer wins if it is there as the deadline passes
	waiting()
	switch {
	case err != nil && r.Context().Err() != nil:
		m.obs.shared(r.Context(), r, requestIDFor(r), arrived, nil)
		return // the client has gone: nobody to answer
	case err != nil, !ex.resp.shareable():
		m.alone(w, r, arrived) // out of time: OPERATION_TIMEOUT, at once
		return
	}
	id := requestIDFor(r)
	ex.resp.writeTo(w, id)
	m.obs.shared(r.Context(), r, id, arrived, ex.exec)
}

// alone executes a request that waited on its own, within what is left of
// its deadline.
func (m *middleware) alone(w http.ResponseWriter, r *http.Request, arrived time.Time) {
	m.share.tell("alone")
	m.serve(w, r.WithContext(withArrival(r.Context(), arrived)))
}

// execute runs a shared execution, writing its response to w, for the
// waiters to be handed it.
func (m *middleware) execute(w http.ResponseWriter, f *flight.Call[*execution], r *http.Request) *execution {
	ex := &execution{}
	rec := &sharedResponse{w: w, header: http.Header{}, seal: f.Seal}
	ex.resp = rec
	defer func() {
		if v := recover(); v != nil {
			// The others execute on their own.
			rec.panic, rec.status = v, 0
		}
		rec.start()
		rec.findRequestID()
	}()
	m.serve(rec, r.WithContext(context.WithValue(r.Context(), executionKey{}, ex)))
	return ex
}

// sharedResponse is the response writer of a shared execution. As the
// response starts, no more requests may join (seal): if some did, the
// response is buffered to be handed to them too, else it goes straight to
// the request that started the execution, which then pays nothing for the
// sharing it did not need.
type sharedResponse struct {
	w        http.ResponseWriter // the starting request's
	seal     func() (others bool)
	decided  bool
	buffered bool

	header http.Header
	status int
	body   bytes.Buffer
	panic  any // what the execution panicked with

	// id is the execution's request id, and idEnd where the part of the
	// body that names it ends (the errors, which come first); 0 when it
	// names none.
	id    string
	idEnd int
}

// start decides, once, whether the response is buffered.
func (b *sharedResponse) start() {
	if b.decided {
		return
	}
	b.decided = true
	b.buffered = b.seal()
	if !b.buffered {
		h := b.w.Header()
		for k, vs := range b.header {
			h[k] = append(h[k], vs...)
		}
	}
}

func (b *sharedResponse) Header() http.Header {
	if b.decided && !b.buffered {
		return b.w.Header()
	}
	return b.header
}

func (b *sharedResponse) WriteHeader(status int) {
	b.start()
	if b.status != 0 {
		return
	}
	b.status = status
	if !b.buffered {
		b.w.WriteHeader(status)
	}
}

func (b *sharedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if !b.buffered {
		return b.w.Write(p)
	}
	return b.body.Write(p)
}

// shareable says whether the response may answer another request: it was
// written whole (no panic) and not streamed.
func (b *sharedResponse) shareable() bool {
	return b.buffered && b.status != 0 &&
		!strings.HasPrefix(b.header.Get("Content-Type"), "multipart/")
}

// errorsPrefix is how a response whose errors come first begins (gqlhttp
// writes them before data and extensions).
const errorsPrefix = `{"errors":`

// findRequestID finds, in a buffered response, the execution's request id
// and the end of the errors that may name it, once, before the response
// is handed to anyone.
func (b *sharedResponse) findRequestID() {
	if !b.buffered {
		return
	}
	b.id = b.header.Get(observe.RequestIDHeader)
	body := b.body.Bytes()
	if b.id == "" || !bytes.HasPrefix(body, []byte(errorsPrefix)) {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body[len(errorsPrefix):]))
	var errs json.RawMessage
	if dec.Decode(&errs) != nil {
		return
	}
	if end := len(errorsPrefix) + int(dec.InputOffset()); bytes.Contains(body[:end], requestIDMember(b.id)) {
		b.idEnd = end
	}
}

// requestIDMember is an error's extensions member naming request id:
// request ids need no escaping (observe.RequestID).
func requestIDMember(id string) []byte { return []byte(`"requestId":"` + id + `"`) }

// bodyFor is the body for the request requestID: the errors name it in
// place of the execution. What follows them (data a client chose to alias
// "requestId", say) is left as it is.
func (b *sharedResponse) bodyFor(requestID string) []byte {
	body := b.body.Bytes()
	if b.idEnd == 0 || requestID == "" || requestID == b.id {
		return body
	}
	out := bytes.ReplaceAll(body[:b.idEnd], requestIDMember(b.id), requestIDMember(requestID))
	return append(out, body[b.idEnd:]...)
}

// writeTo replays a buffered response on w, with requestID for its
// X-Request-Id and in its errors unless empty. The headers are added to
// those w has (CORS's, say).
func (b *sharedResponse) writeTo(w http.ResponseWriter, requestID string) {
	body := b.bodyFor(requestID)
	h := w.Header()
	for k, vs := range b.header {
		h[k] = append(h[k], vs...)
	}
	if requestID != "" {
		h.Set(observe.RequestIDHeader, requestID)
	}
	if h.Get("Content-Length") != "" {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if b.status != 0 {
		w.WriteHeader(b.status)
	}
	_, _ = w.Write(body)
}
