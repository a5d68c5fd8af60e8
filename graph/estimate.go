package graph

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The third pass of the request limits (see limits.go): what an operation
// of the sales schema will cost, estimated from its arguments before
// execution, and the per-request budget of upstream calls.

// budget is the upstream calls one HTTP request may still make; the
// operations of a batch share it.
type budget struct{ left atomic.Int64 }

type budgetKey struct{}

func withBudget(ctx context.Context, n int) context.Context {
	b := &budget{}
	b.left.Store(int64(n))
	return context.WithValue(ctx, budgetKey{}, b)
}

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
	est := estimate(op, l.schema, l.sec, l.cursors)
	pos := op.Operation.Position
	if est.complexity > int64(l.sec.MaxComplexity) {
		e := limitErr(CodeComplexityLimit, fmt.Sprintf("the response would hold about %s fields; at most %d are allowed (lists count once per item: ask for fewer ids or smaller pages)", count(est.complexity), l.sec.MaxComplexity), l.sec.MaxComplexity, pos)
		e.Extensions["estimate"] = est.complexity
		return e
	}
	limit := int64(l.sec.MaxUpstreamCalls)
	b, ok := ctx.Value(budgetKey{}).(*budget)
	if !ok {
		b = &budget{}
		b.left.Store(limit)
	}
	if left := b.left.Add(-est.calls); left < 0 {
		b.left.Add(est.calls)
		msg := fmt.Sprintf("the operation would make about %d upstream calls; at most %d are allowed", est.calls, l.sec.MaxUpstreamCalls)
		if left+est.calls < limit {
			msg += " per request, and earlier operations of this batch used some"
		}
		e := limitErr(CodeUpstreamBudget, msg, l.sec.MaxUpstreamCalls, pos)
		e.Extensions["estimate"] = est.calls
		return e
	}
	return nil
}

// An estimate is what an operation is expected to cost.
type opEstimate struct {
	complexity int64 // fields in the response
	calls      int64 // upstream calls
}

// userGroup is the users a subtree of the operation is about, and what it
// needs of them. Everything below a User concerns that user: its meetings
// and threads, and Meeting.user and Thread.owner are the user again.
type userGroup struct {
	ids      []int64
	meetings bool
	pages    map[int]bool // threads pages
	lookup   bool         // a thread looked up by id: page 1, the rest if needed
}

// threadMeetingsEstimate is how many meetings the estimate assumes a
// thread has (Thread.meetings takes no page size). Clients cannot inflate
// it: it is the data's, and a deal gathers a handful of meetings.
const threadMeetingsEstimate = 5

// estimate walks the operation as execution will (fragments, @skip and
// @include, abstract types) and mirrors the loaders: one meetings call per
// user, one call per (user, threads page), and a thread lookup costing
// ThreadLookupPages pages. It agrees with lookAhead in selection.go, which
// starts those same loads early.
func estimate(op *graphql.OperationContext, schema *ast.Schema, sec *Security, cursors *cursorCodec) opEstimate {
	e := &estimator{op: op, sec: sec, cursors: cursors, w: &walker{op: op, schema: schema}}
	e.walk("Query", op.Operation.SelectionSet, nil, 1, 1)
	type need struct {
		meetings bool
		pages    map[int]bool
		lookup   bool
	}
	perUser := map[int64]*need{}
	for _, g := range e.groups {
		for _, id := range g.ids {
			n := perUser[id]
			if n == nil {
				n = &need{pages: map[int]bool{}}
				perUser[id] = n
			}
			n.meetings = n.meetings || g.meetings
			n.lookup = n.lookup || g.lookup
			for p := range g.pages {
				n.pages[p] = true
			}
		}
	}
	out := opEstimate{complexity: e.complexity}
	for _, n := range perUser {
		if n.meetings {
			out.calls++
		}
		if n.lookup {
			for p := 1; p <= sec.ThreadLookupPages; p++ {
				n.pages[p] = true
			}
		}
		out.calls += int64(len(n.pages))
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

// walk visits sel as a selection on typeName. mult is how many times each
// field here appears in the response; page is the page size of the
// connection whose fields these are (edges and nodes repeat that often).
func (e *estimator) walk(typeName string, sel ast.SelectionSet, g *userGroup, mult, page int64) {
	if e.complexity >= int64(e.sec.MaxComplexity) {
		return // already refused; the rest cannot change that
	}
	for _, obj := range e.w.possibleTypes(typeName) {
		for _, f := range graphql.CollectFields(e.op, sel, e.w.satisfies(obj)) {
			e.complexity = satAdd(e.complexity, mult)
			if f.Definition == nil || len(f.Selections) == 0 {
				continue
			}
			childGroup, childMult, childPage := g, mult, int64(1)
			childType := f.Definition.Type.Name()
			args := func() map[string]any { return f.ArgumentMap(e.op.Variables) }
			switch obj + "." + f.Name {
			case "Query.user":
				childGroup = e.group(idArgs(args()["id"]))
			case "Query.users":
				list, _ := args()["ids"].([]any)
				childGroup = e.group(idArgs(list...))
				childMult = satMul(mult, int64(len(list)))
			case "Query.node":
				s, err := idText(args()["id"])
				if err != nil {
					continue
				}
				ref, err := parseNodeID(s)
				if err != nil {
					continue
				}
				childGroup = e.group([]int64{ref.owner})
				childGroup.meetings = ref.typeName == "Meeting"
				childGroup.lookup = ref.typeName == "Thread"
				childType = ref.typeName // only the id's own type can come back
			case "User.meetings":
				if g != nil {
					g.meetings = true
				}
				childPage = firstArg(args())
			case "User.threads":
				a := args()
				n := firstArg(a)
				if g != nil {
					for _, p := range e.threadPages(n, a["after"]) {
						g.pages[p] = true
					}
				}
				childPage = n
			case "Meeting.thread":
				if g != nil {
					g.lookup = true
				}
			case "Thread.meetings":
				if g != nil {
					g.meetings = true
				}
				childMult = satMul(mult, threadMeetingsEstimate)
			case "MeetingConnection.nodes", "MeetingConnection.edges", "ThreadConnection.nodes", "ThreadConnection.edges":
				childMult = satMul(mult, page)
			}
			e.walk(childType, f.Selections, childGroup, childMult, childPage)
		}
	}
}

func (e *estimator) group(ids []int64) *userGroup {
	g := &userGroup{ids: ids, pages: map[int]bool{}}
	e.groups = append(e.groups, g)
	return g
}

// threadPages mirrors threadConnection: without a cursor, pages 1 to the
// one holding the first n threads at the assumed page size; with one, the
// pages holding the slice at the page size the cursor carries, capped at
// the last page the cursor's total implies.
func (e *estimator) threadPages(n int64, after any) []int {
	perPage, offset, pagesCount := e.sec.UpstreamPageSize, 0, 0
	if s, ok := after.(string); ok {
		p, err := e.cursors.decode(s, threadsCursor, 0)
		if err != nil {
			return nil // argumentCheck refused it already
		}
		offset, perPage = p.index+1, p.perPage
		pagesCount = (p.total + perPage - 1) / perPage
	}
	from := offset/perPage + 1
	to := from
	if n > 0 {
		to = (offset+int(n)-1)/perPage + 1
	}
	if pagesCount > 0 {
		to = max(from, min(to, pagesCount))
	}
	out := make([]int, 0, to-from+1)
	for p := from; p <= to; p++ {
		out = append(out, p)
	}
	return out
}

// firstArg is a connection's page size: first, defaulting as the schema does.
func firstArg(args map[string]any) int64 {
	if v, ok := args["first"]; ok && v != nil {
		if n, err := intArg(v); err == nil && n >= 0 {
			return int64(n)
		}
	}
	return defaultFirst
}

// idArgs parses user ids, skipping (argumentCheck refuses) invalid ones and
// repeats, which the loaders fetch once.
func idArgs(vs ...any) []int64 {
	seen := make(map[int64]bool, len(vs))
	out := make([]int64, 0, len(vs))
	for _, v := range vs {
		s, err := idText(v)
		if err != nil {
			continue
		}
		if id, err := parseUserID(s); err == nil && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
