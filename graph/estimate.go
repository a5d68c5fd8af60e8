package graph

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// The third pass of the request limits (see gqlhttp/limits.go): what an
// operation of the sales schema will cost, estimated from its arguments
// before execution, and the per-request budget of upstream calls.

// budget is the upstream calls one HTTP request may still make; the
// operations of a batch share it.
type budget struct{ left atomic.Int64 }

// limitCheck is the gqlgen extension that refuses, before execution, an
// operation whose estimated response size or upstream calls exceed the
// limits. It must run after argumentCheck, which guarantees the ids and
// page sizes it reads are valid.
type limitCheck struct {
	sec     *Security
	schema  *ast.Schema
	cursors *cursorCodec
}

var (
	_ graphql.HandlerExtension        = limitCheck{}
	_ graphql.OperationContextMutator = limitCheck{}
)

func (limitCheck) ExtensionName() string                          { return "RequestLimits" }
func (limitCheck) Validate(schema graphql.ExecutableSchema) error { return nil }

func (l limitCheck) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil || op.Operation.Operation != ast.Query {
		return nil
	}
	// Without variables, the estimate is the document's alone.
	memo := opMemo(ctx, op)
	var est opEstimate
	if v, ok := memo.Load(estimated{op.Operation}); ok {
		est = *v.(*opEstimate)
	} else {
		est = estimate(op, l.schema, l.sec, l.cursors)
		memo.Store(estimated{op.Operation}, &est)
	}
	noteEstimate(ctx, est.calls)
	if wantsCost(op) {
		op.Stats.SetExtension(costStatsKey, est) // for the cost report (costreport.go)
	}
	pos := op.Operation.Position
	if est.complexity > int64(l.sec.MaxComplexity) {
		e := gqlhttp.LimitError(CodeComplexityLimit, fmt.Sprintf("the response would hold about %s fields; at most %d are allowed (lists count once per item: ask for fewer ids or smaller pages)", gqlhttp.FormatCount(est.complexity), l.sec.MaxComplexity), l.sec.MaxComplexity, pos)
		refusal(e, budgetComplexity, est.complexity, est.complexity-int64(l.sec.MaxComplexity))
		return e
	}
	limit := int64(l.sec.MaxUpstreamCalls)
	var b *budget
	if st, ok := stateFrom(ctx); ok {
		b = &st.budget
	} else {
		b = &budget{}
		b.left.Store(limit)
	}
	if left := b.left.Add(-est.calls); left < 0 {
		b.left.Add(est.calls)
		msg := fmt.Sprintf("the operation would make about %d upstream calls; at most %d are allowed", est.calls, l.sec.MaxUpstreamCalls)
		if left+est.calls < limit {
			msg += " per request, and earlier operations of this batch used some"
		}
		e := gqlhttp.LimitError(CodeUpstreamBudget, msg, l.sec.MaxUpstreamCalls, pos)
		refusal(e, budgetUpstreamCalls, est.calls, -left)
		if left+est.calls < limit {
			e.Extensions["remaining"] = left + est.calls
		}
		return e
	}
	return nil
}

// The budgets a refusal names in extensions.budget, after the settings
// that size them (Security, Options).
const (
	budgetComplexity        = "maxComplexity"                // estimated response fields
	budgetUpstreamCalls     = "maxUpstreamCalls"             // estimated upstream calls of a request
	budgetCallsPerOperation = "maxUpstreamCallsPerOperation" // upstream calls an operation made
)

// refusal completes a budget refusal's extensions: which budget, the
// estimate, and by how much the estimate exceeds what was left of it
// (limit, which LimitError set, is the budget's size).
func refusal(e *gqlerror.Error, budget string, estimate, exceededBy int64) {
	e.Extensions["budget"] = budget
	e.Extensions["estimate"] = estimate
	e.Extensions["exceededBy"] = exceededBy
}

// estimated is the Memo key of an operation's estimate.
type estimated struct{ op *ast.OperationDefinition }

// An estimate is what an operation is expected to cost.
type opEstimate struct {
	complexity int64 // fields in the response
	calls      int64 // upstream calls
}

// userGroup is the users a subtree of the operation is about, and what it
// needs of them. Everything below a User concerns that user: its lists,
// and Meeting.user and Thread.owner are the user again.
type userGroup struct {
	ids   []int64
	lists []listNeed // by list index; nil until the subtree needs one
}

// listNeed is what a subtree needs of one list of its users. A list's
// pages are its own: two lists' page 1 are two calls.
type listNeed struct {
	// all: the whole list, or an item looked up in it by id: one call for
	// a list the upstream answers whole; for a paged one page 1, and the
	// others only for an item not on it, counted as lookupPages pages.
	all   bool
	pages map[int]bool // pages of a paged list
}

func (n *listNeed) add(o listNeed) {
	n.all = n.all || o.all
	for p := range o.pages {
		if n.pages == nil {
			n.pages = map[int]bool{}
		}
		n.pages[p] = true
	}
}

// calls are the upstream calls the need makes of list d.
func (n *listNeed) calls(d *listInfo, lookupPages int) int64 {
	if !d.paged {
		if n.all {
			return 1
		}
		return 0
	}
	calls := int64(len(n.pages))
	if n.all {
		for p := 1; p <= lookupPages; p++ {
			if !n.pages[p] {
				calls++
			}
		}
	}
	return calls
}

// estimate walks the operation as execution will (fragments, @skip and
// @include, abstract types), pricing each field as its entry in the field
// table says (fields.go), and mirrors the loaders: per user, one call for
// each list the upstream answers whole, one per page of each paged list,
// and a lookup in a paged list costing ThreadLookupPages pages. The
// table's prefetch entries start those same loads early (lookAhead).
func estimate(op *graphql.OperationContext, schema *ast.Schema, sec *Security, cursors *cursorCodec) opEstimate {
	e := &estimator{op: op, sec: sec, cursors: cursors, w: &walker{op: op, schema: schema}}
	e.walk(costStep{typ: "Query", mult: 1, page: 1}, op.Operation.SelectionSet)
	perUser := map[int64][]listNeed{}
	for _, g := range e.groups {
		if g.lists == nil {
			continue
		}
		for _, id := range g.ids {
			n := perUser[id]
			if n == nil {
				n = make([]listNeed, len(lists))
				perUser[id] = n
			}
			for i := range g.lists {
				n[i].add(g.lists[i])
			}
		}
	}
	out := opEstimate{complexity: e.complexity}
	for _, n := range perUser {
		for i := range n {
			out.calls += n[i].calls(lists[i].info(), sec.ThreadLookupPages)
		}
	}
	return out
}

type estimator struct {
	op         *graphql.OperationContext
	sec        *Security
	cursors    *cursorCodec
	w          *walker
	groups     []*userGroup
	complexity int64
}

// costStep is the estimate's state at a selection: whom it concerns, how
// many times each field in it appears in the response, the page size of the
// connection whose fields these are (1 elsewhere: what is below its list
// fields, edges and nodes, repeats that often), and the type it is
// selected on.
type costStep struct {
	group *userGroup // nil: not known
	mult  int64
	page  int64
	typ   string
}

// walk visits sel, a selection at at.
func (e *estimator) walk(at costStep, sel ast.SelectionSet) {
	// Over the limit, the operation is refused whatever the rest adds;
	// at the limit exactly it is not, so the rest must still be counted.
	if e.complexity > int64(e.sec.MaxComplexity) {
		return
	}
	for _, obj := range e.w.possibleTypes(at.typ) {
		for _, f := range graphql.CollectFields(e.op, sel, e.w.satisfies(obj)) {
			e.complexity = gqlhttp.SatAdd(e.complexity, at.mult)
			if f.Definition == nil || len(f.Selections) == 0 {
				continue
			}
			// Below a field, by default: the same users and repeats, no
			// page, the field's type; below a list right under a
			// connection (its nodes and edges), once per item of the page.
			child := costStep{group: at.group, mult: at.mult, page: 1, typ: f.Definition.Type.Name()}
			if f.Definition.Type.Elem != nil {
				child.mult = gqlhttp.SatMul(at.mult, at.page)
			}
			if spec, ok := fields[obj+"."+f.Name]; ok && !e.price(spec, f, at, &child) {
				continue
			}
			e.walk(child, f.Selections)
		}
	}
}

// price applies f's entry: the users it names, then its cost. false leaves
// f's subtree out.
func (e *estimator) price(spec fieldSpec, f graphql.CollectedField, at costStep, child *costStep) bool {
	args := f.ArgumentMap(e.op.Variables)
	if spec.users != nil {
		ids, err := spec.users(args)
		if err != nil {
			return false // argumentCheck refused it already
		}
		child.group = e.group(ids)
	}
	return spec.cost == nil || spec.cost(&costing{e: e, args: args, parent: at, child: child})
}

// costing is one use of a field, for its entry's cost: where it is
// (parent) and what its subtree gets (child, which starts as described in
// walk, with the users the entry names).
type costing struct {
	e      *estimator
	args   map[string]any
	parent costStep
	child  *costStep
}

// repeat makes each field below appear n times per appearance of this one.
func (c *costing) repeat(n int64) { c.child.mult = gqlhttp.SatMul(c.parent.mult, n) }

// need is what the users need of list d, nil when the users are not
// known.
func (c *costing) need(d anyList) *listNeed {
	g := c.child.group
	if g == nil {
		return nil
	}
	if g.lists == nil {
		g.lists = make([]listNeed, len(lists))
	}
	return &g.lists[d.info().index]
}

// load counts the calls for the users' list d, whole: one call, or for a
// list the upstream pages, those of a lookup of an item by id (page 1,
// the rest only for an item not on it).
func (c *costing) load(d anyList) {
	if n := c.need(d); n != nil {
		n.all = true
	}
}

// loadPages counts calls for these pages of the users' list d (for a list
// the upstream answers whole, its one call).
func (c *costing) loadPages(d anyList, pages []int) {
	n := c.need(d)
	switch {
	case n == nil:
	case !d.info().paged:
		n.all = true
	default:
		for _, p := range pages {
			if n.pages == nil {
				n.pages = map[int]bool{}
			}
			n.pages[p] = true
		}
	}
}

func (e *estimator) group(ids []int64) *userGroup {
	g := &userGroup{ids: ids}
	e.groups = append(e.groups, g)
	return g
}
