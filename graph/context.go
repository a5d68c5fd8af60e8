package graph

import (
	"context"
)

// requestState is everything that belongs to one GraphQL request: its
// operation, or a batch's. Each operation of a batch has a state of its own
// besides (operationState in handler.go), sharing the request's record, and
// its call budget through its loaders.
type requestState struct {
	loaders *Loaders
	// releaseBodies gives back the room the operation's upstream answers
	// keep in the client's body budget (restclient.WithBodyHold), and
	// holds are every hold of the request, its batch's operations' too.
	releaseBodies func()
	holds         *bodyHolds
	// callerCredential says whether the caller sent any forwarded header, so
	// that an upstream 403 can be told apart: no credential (UNAUTHENTICATED)
	// or a wrong one (FORBIDDEN).
	callerCredential bool
	requestID        string
	stale            staleMarks // stale upstream answers served (cachemark.go)
	lists            listMemo   // whether a list's elements wait for loads (lists.go)
	// budget is the estimated upstream calls the request may still make
	// (estimate.go; drawn on before an operation of a batch has a state of
	// its own, so only the request's is), and rec its observability record
	// (observe.go): in the
	// state rather than context values of their own, which would cost an
	// allocation each and lengthen every lookup's walk up the context.
	budget budget
	rec    *opRecord
}

type stateKey struct{}

func withState(ctx context.Context, st *requestState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateFrom(ctx context.Context) (*requestState, bool) {
	st, ok := ctx.Value(stateKey{}).(*requestState)
	return st, ok && st != nil
}

// loadersFrom returns the operation's loaders. A missing state is a wiring
// bug, not a request error, so it panics (and the panic is masked).
func loadersFrom(ctx context.Context) *Loaders {
	st, ok := stateFrom(ctx)
	if !ok {
		panic("graph: no request state in context; serve through graph.NewHandler, whose middleware installs the loaders")
	}
	return st.loaders
}
