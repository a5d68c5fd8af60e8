package graph

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
)

// A client asks for the cost of its operation with the request extension
// "cost": true; the response's extensions.cost then holds the estimate
// the operation was admitted on (estimate.go), what it actually cost, and
// the budgets it was held to:
//
//	"cost": {
//	  "estimated": {"responseFields": 23, "upstreamCalls": 2},
//	  "actual":    {"responseFields": 23, "upstreamCalls": 2},
//	  "budgets":   {"maxComplexity": 500000, "maxUpstreamCalls": 500, "maxUpstreamCallsPerOperation": 500}
//	}
//
// Only on request: every other response stays as it was, byte for byte
// (caches, ETags and the fast path's parity depend on that), and the count
// of response fields reads the whole response once more. The actual
// upstream calls are those the operation's loaders started, each page
// once; an identical call of another operation already in flight, or the
// replicas' shared cache, answers some of them without an exchange of
// their own (the log line's upstreamShared and upstreamCached). A response that another request's execution answered
// (opshare.go) reports that execution's cost.

// costStatsKey is the operation's estimate in its Stats' extensions.
const costStatsKey = "salesgraph.estimate"

// costReport writes extensions.cost, with the budgets' sizes. It runs in
// recordsRelease, the response interceptor that sees every operation's
// response once its data is marshalled, rather than as an interceptor of
// its own: gqlgen makes a closure per interceptor per request, and every
// request would pay for what few ask for.
type costReport struct{ complexity, calls, callsPerOperation int }

// write adds extensions.cost to resp when the operation asked for it.
func (c costReport) write(ctx context.Context, resp *graphql.Response) {
	if resp == nil || resp.HasNext != nil || !graphql.HasOperationContext(ctx) {
		return // an incremental response's parts are left alone
	}
	op := graphql.GetOperationContext(ctx)
	if !wantsCost(op) {
		return
	}
	est, _ := op.Stats.GetExtension(costStatsKey).(opEstimate)
	var calls int64
	if st, ok := stateFrom(ctx); ok {
		calls = st.loaders.made.Load()
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["cost"] = map[string]any{
		"estimated": map[string]any{"responseFields": est.complexity, "upstreamCalls": est.calls},
		"actual":    map[string]any{"responseFields": responseFields(resp.Data), "upstreamCalls": calls},
		"budgets": map[string]any{
			budgetComplexity:        c.complexity,
			budgetUpstreamCalls:     c.calls,
			budgetCallsPerOperation: c.callsPerOperation,
		},
	}
}

// wantsCost says whether the request asked for its cost.
func wantsCost(op *graphql.OperationContext) bool {
	want, _ := op.Extensions["cost"].(bool)
	return want
}

// responseFields counts the fields in data, a response's data: the members
// of its objects at every depth, as the estimate counts them (a field in
// every element of a list once per element).
func responseFields(data json.RawMessage) int64 {
	dec := json.NewDecoder(bytes.NewReader(data))
	// inObject[i] says the container at depth i is an object, and
	// wantKey[i] that its next token is a member's name.
	var (
		inObject, wantKey []bool
		n                 int64
	)
	valueDone := func() {
		if d := len(wantKey) - 1; d >= 0 && inObject[d] {
			wantKey[d] = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF at the end
			return n
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				inObject, wantKey = append(inObject, t == '{'), append(wantKey, t == '{')
			default:
				inObject, wantKey = inObject[:len(inObject)-1], wantKey[:len(wantKey)-1]
				valueDone()
			}
		default:
			if d := len(wantKey) - 1; d >= 0 && wantKey[d] {
				n++
				wantKey[d] = false
				continue
			}
			valueDone()
		}
	}
}
