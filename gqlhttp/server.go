package gqlhttp

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// RequestIDHeader is the response header that carries the request's id
// (Server.RequestID), exposed to cross-origin callers.
const RequestIDHeader = "X-Request-Id"

// Server is the endpoint: gqlgen's executor for a schema behind the
// transport of this package, inside CORS. Its exported fields are hooks,
// each optional; set them before the first request and do not change them
// after.
type Server struct {
	// RequestID names each request: the name is sent back in the
	// X-Request-Id header, is in the endpoint's log lines and in the
	// requestId extension of the errors it makes itself, and RequestIDFrom
	// returns it. Nil: requests have no id.
	RequestID func(r *http.Request) string

	// Begin is called for every request the endpoint serves (not the CORS
	// preflights it answers), before its body is read, with the request's
	// context, which already holds the request id and the forwarded
	// headers (r.Context() does not): the context it returns is the
	// request's from then on, and end is called once the response is
	// written. It is where per-request state (loaders, credentials, a
	// deadline, a span) starts.
	Begin func(ctx context.Context, r *http.Request) (out context.Context, end func())

	// Logger receives the endpoint's own failures: a panic in the
	// transport, a response that could not be encoded. Nil: slog.Default().
	Logger *slog.Logger

	// The On hooks are told what the endpoint answers besides what the
	// executor produced, so that a gqlgen response interceptor plus these
	// see every error a client gets. op is the operation's position in the
	// request: 0, or its index in a batch. They are called before errs are
	// written, so what they add to an error's extensions (a request id) is
	// sent.

	// OnRefused: the request was refused before any operation ran (a
	// method, media type or body the transport refuses).
	OnRefused func(ctx context.Context, errs gqlerror.List)
	// OnReplaced: operation op's response was replaced by errs (too large,
	// over the memory budget, cancelled, not encodable).
	OnReplaced func(ctx context.Context, op int, errs gqlerror.List)
	// OnAdded: errs were added to operation op's response (the summary of
	// errors left out, a deferred payload refused for its size).
	OnAdded func(ctx context.Context, op int, errs gqlerror.List)
	// OnAPQ: an automatic persisted query lookup of operation op. A miss
	// is the protocol's normal first step, not a failure.
	OnAPQ func(ctx context.Context, op int, result APQResult)
	// OnResponseMemory: the bytes of MaxResponseMemory held by responses
	// being built changed by delta.
	OnResponseMemory func(delta int64)

	// ServerTiming, with Options.ServerTiming, adds the application's
	// metrics to the Server-Timing header of the answer to the request ctx
	// belongs to (servertiming.go): it appends them to m, which holds the
	// endpoint's own (total, the request's time in the endpoint so far),
	// and returns it. It is called as the answer's headers are written, or
	// its trailers for a streamed answer.
	ServerTiming func(ctx context.Context, total time.Duration, m []TimingMetric) []TimingMetric

	opts      Options
	vary      []string           // the Vary value, ForwardHeaders and Accept, shared (addShared)
	exec      *executor.Executor // gqlgen's, without its handler: the transport is the only one
	fieldExts []string           // the names of the extensions that are field interceptors
	transport *httpTransport
	cors      http.Handler // CORS around serve
}

// Options is what the endpoint runs with: New's Options, defaults applied.
func (s *Server) Options() Options { return s.opts }

// APQResult is the outcome of an automatic persisted query lookup.
type APQResult string

const (
	APQHit        APQResult = "hit"        // the hash was known: the document was not sent
	APQMiss       APQResult = "miss"       // the hash was not known: the client sends the document next
	APQRegistered APQResult = "registered" // a document sent with its hash was checked and remembered
)

// New returns the endpoint for es, configured by o, or the *ConfigError
// that o.Validate reports. Like gqlgen's handler.New it is then composed
// with Use, SetErrorPresenter and SetRecoverFunc; unlike it, the transport
// and the query cache are fixed, since the limits hold only if every
// document comes through the one and is handed over by the other.
func New(es graphql.ExecutableSchema, o Options) (*Server, error) {
	schema := es.Schema()
	s := &Server{opts: o.withDefaults(), exec: executor.New(es)}
	pinned, err := s.opts.check(schema)
	if err != nil {
		return nil, err
	}
	// Answers depend on the forwarded headers, and their media type on
	// Accept (negotiation.go).
	s.vary = shared(strings.Join(append(slices.Clone(s.opts.ForwardHeaders), "Accept"), ", "))
	s.transport = newTransport(s, schema, pinned)
	s.exec.SetQueryCache(docHook{})
	if s.opts.Introspection {
		s.use(extension.Introspection{})
	}
	s.use(responseSize{})
	s.cors = s.opts.withCORS(http.HandlerFunc(s.serve))
	return s, nil
}

// Use adds a gqlgen extension: an argument check or cost estimate
// (graphql.OperationContextMutator, run after the document limits and
// validation), a response or field interceptor.
func (s *Server) Use(ext graphql.HandlerExtension) { s.use(ext) }

func (s *Server) use(ext graphql.HandlerExtension) {
	if _, ok := ext.(graphql.FieldInterceptor); ok {
		s.fieldExts = append(s.fieldExts, ext.ExtensionName())
	}
	s.exec.Use(ext)
}

// FieldInterceptors names the extensions that run around every field's
// resolution (graphql.FieldInterceptor), the endpoint's own included, in
// the order they were added. A schema whose executor writes some fields
// without resolving them through the field middleware (graph's fast path)
// checks with it that it is safe with each.
func (s *Server) FieldInterceptors() []string { return slices.Clone(s.fieldExts) }

// SetErrorPresenter sets how resolver errors become GraphQL errors.
func (s *Server) SetErrorPresenter(f graphql.ErrorPresenterFunc) { s.exec.SetErrorPresenter(f) }

// SetRecoverFunc sets what a resolver's panic becomes.
func (s *Server) SetRecoverFunc(f graphql.RecoverFunc) { s.exec.SetRecoverFunc(f) }

// ServeHTTP serves one GraphQL-over-HTTP request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.cors.ServeHTTP(w, r) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rv := &requestValues{header: r.Header, forward: s.opts.ForwardHeaders}
	if s.opts.ServerTiming {
		rv.start = time.Now()
	}
	if s.RequestID != nil {
		rv.id = s.RequestID(r)
	}
	ctx := context.WithValue(r.Context(), requestKey{}, rv)
	if s.Begin != nil {
		var end func()
		ctx, end = s.Begin(ctx, r)
		defer end()
	}
	// gqlgen's handler would start the operation's trace and copy the
	// request once more to pick its only transport: both done here.
	r = r.WithContext(graphql.StartOperationTrace(ctx)) // once: a copy of the request each time
	h := w.Header()
	if rv.id != "" {
		h.Set(RequestIDHeader, rv.id)
	}
	// Answers depend on the forwarded headers (credentials), or on the
	// server's own when the caller sent none: no shared cache may keep them
	// or hand one caller's answer (or error) to another.
	h["Cache-Control"] = cacheControl // or "private, no-cache" with an ETag (etag.go)
	addShared(h, "Vary", s.vary)
	s.transport.Do(w, r, s.exec)
}

// Header values every response carries are shared by all of them rather
// than allocated per response, as rs/cors does with its own: a value's
// slice has no room past its length, so that adding to the header copies
// it instead of writing into the shared array, and nothing here or in
// net/http changes a header value in place.
var (
	cacheControl       = shared("private, no-store")
	noSniff            = shared("nosniff")
	contentTypeGR      = shared(mediaGraphQLResponse + "; charset=utf-8")
	contentTypeJSON    = shared(mediaJSON + "; charset=utf-8")
	contentTypeOfMedia = map[string][]string{mediaGraphQLResponse: contentTypeGR, mediaJSON: contentTypeJSON}
)

func shared(v string) []string { return []string{v}[:1:1] }

// addShared is h.Add of the shared values vs.
func addShared(h http.Header, key string, vs []string) {
	if len(h[key]) == 0 {
		h[key] = vs
		return
	}
	h[key] = append(h[key], vs...)
}

type requestKey struct{}

// requestValues is what the endpoint knows of a request before it is read.
type requestValues struct {
	id      string
	header  http.Header
	forward []string
	start   time.Time   // its arrival, with Options.ServerTiming (servertiming.go)
	noETag  atomic.Bool // NoETag was called (etag.go)
}

// RequestIDFrom is the id Server.RequestID gave the request ctx belongs
// to; ok is false outside a request, or when it has none.
func RequestIDFrom(ctx context.Context) (id string, ok bool) {
	rv, _ := ctx.Value(requestKey{}).(*requestValues)
	if rv == nil || rv.id == "" {
		return "", false
	}
	return rv.id, true
}

func requestIDOf(ctx context.Context) string {
	id, _ := RequestIDFrom(ctx)
	return id
}

// ForwardedFrom returns the headers of Options.ForwardHeaders that the
// request ctx belongs to carries, exactly those, less any the caller named
// in Connection (hop-by-hop for this request, RFC 9110 section 7.6.1). The
// header is new at every call: the caller may change it. Outside a request
// it is empty.
func ForwardedFrom(ctx context.Context) http.Header {
	rv, _ := ctx.Value(requestKey{}).(*requestValues)
	if rv == nil {
		return http.Header{}
	}
	return forwardedHeaders(rv.header, rv.forward)
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) refused(ctx context.Context, errs gqlerror.List) {
	if s.OnRefused != nil {
		s.OnRefused(ctx, errs)
	}
}

func (s *Server) replaced(ctx context.Context, op int, errs gqlerror.List) {
	if s.OnReplaced != nil {
		s.OnReplaced(ctx, op, errs)
	}
}

func (s *Server) added(ctx context.Context, op int, errs gqlerror.List) {
	if s.OnAdded != nil {
		s.OnAdded(ctx, op, errs)
	}
}

func (s *Server) apq(ctx context.Context, op int, result APQResult) {
	if s.OnAPQ != nil {
		s.OnAPQ(ctx, op, result)
	}
}

func (s *Server) responseMemory(delta int64) {
	if s.OnResponseMemory != nil {
		s.OnResponseMemory(delta)
	}
}
