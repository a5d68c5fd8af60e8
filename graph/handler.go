package graph

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/vektah/gqlparser/v2/ast"
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
	// Introspection enables schema introspection (on in demo mode).
	Introspection bool
	// Logger receives internal errors; default slog.Default().
	Logger *slog.Logger
}

func (c *Options) defaults() {
	if len(c.ForwardHeaders) == 0 {
		c.ForwardHeaders = []string{"Authorization"}
	}
	for i, h := range c.ForwardHeaders {
		c.ForwardHeaders[i] = http.CanonicalHeaderKey(strings.TrimSpace(h))
	}
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
}

// NewHandler returns the /graphql endpoint: gqlgen's executor with explicit
// transports, the error presenter, and the middleware that gives every
// operation its own loaders and forwarded credentials.
func NewHandler(cfg Options) http.Handler {
	cfg.defaults()
	res := &Resolver{}
	es := NewExecutableSchema(Config{Resolvers: res})
	schema := es.Schema()
	res.schema = schema

	srv := handler.New(es)
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(argumentCheck{schema: schema})
	srv.SetErrorPresenter(errorPresenter(cfg.Logger))
	srv.SetRecoverFunc(recoverFunc(cfg.Logger))

	lc := &loaderConfig{
		up:         cfg.Upstream,
		global:     semaphore.NewWeighted(int64(cfg.MaxUpstreamConcurrency)),
		perRequest: int64(cfg.MaxOperationConcurrency),
		wait:       cfg.BatchWait,
		maxPages:   cfg.MaxThreadPages,
	}
	return &middleware{next: srv, cfg: cfg, loaders: lc}
}

type middleware struct {
	next    http.Handler
	cfg     Options
	loaders *loaderConfig
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fwd := make(http.Header, len(m.cfg.ForwardHeaders))
	for _, name := range m.cfg.ForwardHeaders {
		if vs := r.Header.Values(name); len(vs) > 0 {
			fwd[name] = vs
		}
	}
	st := &requestState{
		loaders:          newLoaders(m.loaders),
		callerCredential: len(fwd) > 0,
		requestID:        newRequestID(),
	}
	if len(fwd) > 0 {
		ctx = restclient.WithRequestHeaders(ctx, fwd)
	}
	ctx = withState(ctx, st)
	w.Header().Set("X-Request-Id", st.requestID)
	if st.callerCredential {
		// Answers depend on the caller's credentials: no shared cache may
		// keep them, or hand one caller's answer to another.
		w.Header().Set("Cache-Control", "private, no-store")
		w.Header().Add("Vary", strings.Join(m.cfg.ForwardHeaders, ", "))
	}
	m.next.ServeHTTP(w, r.WithContext(ctx))
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
