package graph

import (
	"context"
	"math"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/restclient"
)

// This file marks responses that hold stale upstream answers: restclient
// serves a cached answer past its freshness when the upstream fails
// (stale-if-error) and reports it to the function WithCacheReport put in
// the request's context; staleMarker puts what was reported into the
// response as extensions.cache, so that a client can tell.

// staleMarks collects the stale answers one request's upstream calls
// served. The loaders call from many goroutines.
type staleMarks struct {
	mu   sync.Mutex
	list []restclient.StaleAnswer
}

func (m *staleMarks) add(s restclient.StaleAnswer) {
	m.mu.Lock()
	m.list = append(m.list, s)
	m.mu.Unlock()
}

// take returns what was reported since the last take, so that each payload
// (one operation of a batch, a deferred part) carries its own.
func (m *staleMarks) take() []restclient.StaleAnswer {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.list
	m.list = nil
	return l
}

// staleMarker adds extensions.cache to a response some of whose data came
// from stale answers: {"stale": [{"endpoint": …, "path": …, "ageSeconds":
// …}]}, one entry per upstream path (its oldest answer). The path is the
// upstream's, not the GraphQL one: a loader's one call may serve several
// fields.
type staleMarker struct{}

var (
	_ graphql.HandlerExtension    = staleMarker{}
	_ graphql.ResponseInterceptor = staleMarker{}
)

func (staleMarker) ExtensionName() string                   { return "StaleMarker" }
func (staleMarker) Validate(graphql.ExecutableSchema) error { return nil }

func (staleMarker) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	st, ok := stateFrom(ctx)
	if resp == nil || !ok {
		return resp
	}
	served := st.stale.take()
	if len(served) == 0 {
		return resp
	}
	var entries []map[string]any
	byPath := map[string]map[string]any{}
	for _, s := range served {
		age := int(math.Ceil(s.Age.Seconds()))
		if e, ok := byPath[s.Path]; ok {
			e["ageSeconds"] = max(e["ageSeconds"].(int), age)
			continue
		}
		e := map[string]any{"endpoint": s.Endpoint, "path": s.Path, "ageSeconds": age}
		byPath[s.Path] = e
		entries = append(entries, e)
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["cache"] = map[string]any{"stale": entries}
	// Not to be confirmed by a 304 later: a client revalidating it should
	// get it again, in full, and see whether it is still stale.
	gqlhttp.NoETag(ctx)
	return resp
}
