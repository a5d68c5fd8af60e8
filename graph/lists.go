package graph

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// marshalList replaces gqlgen's MarshalSliceConcurrently in the generated
// executor (graph/internal/gen rewrites the calls). gqlgen gives every
// element of a list of objects a goroutine, so that fields below that wait
// for a dataloader batch wait together. When no field below the list waits
// (concurrentFields, and no @defer), the elements are marshalled here in
// order instead: the same values and errors, without a goroutine, a stack
// and its growth per element. On Q1 (50 users × 40 meetings) that was 2,000
// goroutines per request.
//
// A list with @stream, in a response delivered incrementally, has its first
// elements marshalled so, and the others streamed (streamElements).
func marshalList(ec *executionContext, ctx context.Context, sel ast.SelectionSet, n int, workerLimit int64, omitPanicHandler bool, marshal func(context.Context, int) graphql.Marshaler) graphql.Array {
	if s, ok := gqlhttp.StreamList(ctx, n); ok {
		streamElements(ec, ctx, s, n, omitPanicHandler, marshal)
		n = s.Initial
	}
	if n < 2 || listWaits(ctx, sel) {
		return graphql.MarshalSliceConcurrently(ctx, n, workerLimit, omitPanicHandler, marshal)
	}
	ret := make(graphql.Array, n)
	fl := &fastList{n: n}
	ctx = context.WithValue(ctx, fastListKey{}, fl)
	// An element written by the fast path (fast.go) keeps nothing of its
	// field context once written, so the next element can have it; one that
	// took the executor's path may have marshalers holding it, and keeps it.
	var fc *graphql.FieldContext
	var elemCtx context.Context
	var idx *int
	for i := range n {
		if fc == nil {
			idx = new(int)
			fc = &graphql.FieldContext{Index: idx}
			elemCtx = graphql.WithFieldContext(ctx, fc)
		}
		*idx = i
		fc.Result = nil
		fl.fc, fl.cur = fc, i
		ret[i] = marshalElement(elemCtx, i, omitPanicHandler, marshal)
		switch ret[i].(type) {
		case listed, rawJSON, *withLong:
		default:
			fc = nil
		}
	}
	return fl.array(ret)
}

// streamElements resolves elements s.Initial to n-1 of a list with @stream
// each on a goroutine of its own, and sends each as a result of the
// execution's deferred channel once it is resolved and the one before it
// was sent: an element goes out as soon as the upstream calls it needs (its
// user's meetings, say) have answered, whatever later elements wait for,
// and the list keeps its order. The results are counted as pending before
// the list's own payload is sent, as gqlgen counts a deferred group's, so
// the executor reads every one (gqlhttp.ListStream says how they look).
// Each element has its own errors, as a deferred fragment has.
func streamElements(ec *executionContext, ctx context.Context, s gqlhttp.ListStream, n int, omitPanicHandler bool, marshal func(context.Context, int) graphql.Marshaler) {
	atomic.AddInt32(&ec.Deferred, 1)
	atomic.AddInt32(&ec.PendingDeferred, int32(n-s.Initial))
	prev := make(chan struct{})
	close(prev)
	for i := s.Initial; i < n; i++ {
		sent := make(chan struct{})
		go func(i int, prev <-chan struct{}) {
			defer close(sent)
			elemCtx := graphql.WithFreshResponseContext(graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i}))
			m := marshalElement(elemCtx, i, omitPanicHandler, marshal)
			<-prev
			ec.DeferredResults <- graphql.DeferredResult{Path: graphql.GetPath(elemCtx), Label: s.Label, Result: m, Errors: graphql.GetErrors(elemCtx)}
		}(i, prev)
		prev = sent
	}
}

// dataSize is the size at which the generated executor allocates the
// buffer for an operation's data (graph/internal/gen adds the call).
func dataSize(ctx context.Context) int { return gqlhttp.DataSizeHint(ctx) }

// marshalElement recovers a panic into an error at the element's path, as
// MarshalSliceConcurrently does.
func marshalElement(ctx context.Context, i int, omitPanicHandler bool, marshal func(context.Context, int) graphql.Marshaler) (m graphql.Marshaler) {
	if !omitPanicHandler {
		defer func() {
			if r := recover(); r != nil {
				graphql.AddError(ctx, graphql.Recover(ctx, r))
				m = graphql.Null
			}
		}()
	}
	return marshal(ctx, i)
}

// listWaits reports whether a field below sel waits for a load, or a
// fragment below it is deferred. The answer depends only on the document, so
// it is kept per selection set for the rest of the operation.
func listWaits(ctx context.Context, sel ast.SelectionSet) bool {
	if len(sel) == 0 { // a list of scalars or enums
		return false
	}
	st, ok := stateFrom(ctx)
	if !ok {
		return selectionWaits(sel, false)
	}
	key := sel[0]
	if v, ok := st.lists.Load(key); ok {
		return v.(bool)
	}
	w := selectionWaits(sel, false)
	st.lists.Store(key, w)
	return w
}

// concurrentNames are the names of concurrentFields, for fields selected on
// an interface, whose object type is only known per element.
var concurrentNames = func() map[string]bool {
	m := make(map[string]bool, len(concurrentFields))
	for f := range concurrentFields {
		m[f[strings.IndexByte(f, '.')+1:]] = true
	}
	return m
}()

// selectionWaits walks sel without evaluating @skip/@include, so it may say
// a list waits when it does not this time; the other way round never. A
// field waits if the executor resolves it concurrently, unless the field
// table marks it prefetched and no field above it (belowNamed) names a user
// the look-ahead could not know.
func selectionWaits(sel ast.SelectionSet, belowNamed bool) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			parent := s.ObjectDefinition
			if parent == nil {
				return true // not validated: be safe
			}
			key := parent.Name + "." + s.Name
			spec := fields[key]
			switch {
			case parent.Kind == ast.Object && concurrentFields[key] && (belowNamed || !spec.prefetched):
				return true
			case parent.Kind != ast.Object && concurrentNames[s.Name]:
				return true
			}
			if selectionWaits(s.SelectionSet, belowNamed || spec.namedByUpstream) {
				return true
			}
		case *ast.InlineFragment:
			if s.Directives.ForName("defer") != nil || selectionWaits(s.SelectionSet, belowNamed) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Directives.ForName("defer") != nil || s.Definition == nil || selectionWaits(s.Definition.SelectionSet, belowNamed) {
				return true
			}
		}
	}
	return false
}

// listMemo is requestState's cache of listWaits answers.
type listMemo = sync.Map
