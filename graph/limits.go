package graph

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
)

// Request limits are enforced in three passes, each before anything that
// the limit protects:
//
//  1. scanDocument lexes the text once, before it is parsed: token count
//     and bracket nesting. Nothing recursive has run yet, so 10,000 nested
//     braces cost one linear scan.
//  2. checkDocument measures the parsed document before it is validated:
//     fragment cycles, depth, aliases, root fields and field selections,
//     fragments counted wherever they are spread. It works fragment by
//     fragment in dependency order with memoised results, so neither a cycle
//     nor a fragment spread a million times makes it recurse or loop more
//     than the document's size. The validator, and gqlgen's field collection
//     after it, only ever see acyclic documents of bounded size: a validator
//     that recursed through spreads (gqlparser issue 173, a stack overflow
//     that recover cannot catch) would have nothing to recurse on.
//  3. limitCheck, a gqlgen extension that runs after variables are coerced
//     and before execution, estimates from the arguments what the operation
//     will cost: fields in the response (complexity) and upstream calls.

// saturation caps every sum and product of the estimates, so that a
// fragment spread 2^60 times reads as "too many", never as a wrapped number.
const saturation = int64(1) << 40

func satAdd(a, b int64) int64 { return min(a+b, saturation) }

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > saturation/b {
		return saturation
	}
	return min(a*b, saturation)
}

// limitError builds a request error for a breached limit.
func limitErr(code, msg string, limit int, pos *ast.Position) *gqlerror.Error {
	e := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code, "limit": limit}}
	if pos != nil && pos.Line > 0 {
		e.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
	}
	return e
}

// maxNesting is the bracket nesting scanDocument allows: room for MaxDepth
// fields, an inline fragment at each level and arguments nested a few
// levels, while a pathological document is refused before the parser
// recurses into it.
func (s *Security) maxNesting() int { return 4*s.MaxDepth + 16 }

// scanDocument counts src's tokens and bracket nesting, stopping at the
// first limit passed. A lexical error ends the scan without an error: the
// parser then reports it with a better message.
func (s *Security) scanDocument(src string) *gqlerror.Error {
	lx := lexer.New(&ast.Source{Input: src})
	tokens, depth, limit := 0, 0, s.maxNesting()
	for {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return nil
		}
		if tok.Kind == lexer.Comment {
			continue
		}
		if tokens++; tokens > s.MaxTokens {
			return limitErr(CodeTokenLimit, fmt.Sprintf("the document has more than %d tokens", s.MaxTokens), s.MaxTokens, &tok.Pos)
		}
		switch tok.Kind {
		case lexer.BraceL, lexer.BracketL, lexer.ParenL:
			if depth++; depth > limit {
				return limitErr(CodeDepthLimit, fmt.Sprintf("the document nests brackets more than %d levels deep", limit), s.MaxDepth, &tok.Pos)
			}
		case lexer.BraceR, lexer.BracketR, lexer.ParenR:
			depth--
		}
	}
}

// shape is what checkDocument measures of a selection set.
type shape struct {
	depth   int64 // deepest field, counting this level as 1
	aliases int64
	fields  int64
	root    int64 // fields at this level, through fragments
}

func (a *shape) addAll(b shape) {
	a.depth = max(a.depth, b.depth)
	a.aliases = satAdd(a.aliases, b.aliases)
	a.fields = satAdd(a.fields, b.fields)
	a.root = satAdd(a.root, b.root)
}

// checkDocument enforces the document's static limits and refuses fragment
// cycles, before validation. Every operation of the document is checked, not
// just the one requested, because the validator walks them all.
func (s *Security) checkDocument(doc *ast.QueryDocument) *gqlerror.Error {
	frags := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		if _, dup := frags[f.Name]; !dup { // the validator reports duplicates
			frags[f.Name] = f
		}
	}
	order, cycle := fragmentOrder(frags, doc.Fragments)
	if cycle != nil {
		return cycle
	}
	shapes := make(map[string]shape, len(order))
	for _, f := range order {
		shapes[f.Name] = measure(f.SelectionSet, shapes)
	}

	var total int64
	reached := map[string]bool{}
	for _, op := range doc.Operations {
		sh := measure(op.SelectionSet, shapes)
		total = satAdd(total, sh.fields)
		pos := op.Position
		switch {
		case sh.depth > int64(s.MaxDepth):
			return limitErr(CodeDepthLimit, fmt.Sprintf("the operation nests fields %s levels deep; at most %d are allowed (fields inside fragments count)", count(sh.depth), s.MaxDepth), s.MaxDepth, pos)
		case sh.aliases > int64(s.MaxAliases):
			return limitErr(CodeAliasLimit, fmt.Sprintf("the operation has %s aliased fields; at most %d are allowed (fragments count wherever they are spread)", count(sh.aliases), s.MaxAliases), s.MaxAliases, pos)
		case sh.root > int64(s.MaxRootFields):
			return limitErr(CodeRootFieldLimit, fmt.Sprintf("the operation selects %s root fields; at most %d are allowed", count(sh.root), s.MaxRootFields), s.MaxRootFields, pos)
		}
		markReached(op.SelectionSet, frags, reached)
	}
	// The validator also walks fragments that no operation spreads, and
	// every definition of a name defined twice (it reports the duplicate,
	// but only after walking it).
	for _, f := range order {
		if !reached[f.Name] {
			total = satAdd(total, shapes[f.Name].fields)
		}
	}
	for _, f := range doc.Fragments {
		if frags[f.Name] != f {
			total = satAdd(total, measure(f.SelectionSet, shapes).fields)
		}
	}
	if total > int64(s.MaxFields) {
		return limitErr(CodeFieldLimit, fmt.Sprintf("the document selects %s fields; at most %d are allowed (fragments count wherever they are spread)", count(total), s.MaxFields), s.MaxFields, nil)
	}
	return nil
}

// count renders a saturated measure honestly.
func count(n int64) string {
	if n >= saturation {
		return "more than a trillion"
	}
	return fmt.Sprint(n)
}

// measure computes a selection set's shape; spreads read the shapes of
// fragments measured before (fragmentOrder puts dependencies first), so
// the recursion follows only the selection set's own nesting, which
// scanDocument bounded.
func measure(sel ast.SelectionSet, frags map[string]shape) shape {
	var out shape
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			child := measure(s.SelectionSet, frags)
			out.depth = max(out.depth, child.depth+1)
			out.fields = satAdd(out.fields, satAdd(child.fields, 1))
			out.aliases = satAdd(out.aliases, child.aliases)
			if s.Alias != "" && s.Alias != s.Name {
				out.aliases = satAdd(out.aliases, 1)
			}
			out.root = satAdd(out.root, 1)
		case *ast.InlineFragment:
			out.addAll(measure(s.SelectionSet, frags))
		case *ast.FragmentSpread:
			out.addAll(frags[s.Name]) // unknown fragments: the validator reports them
		}
	}
	return out
}

// spreadsIn lists the fragment spreads anywhere in sel.
func spreadsIn(sel ast.SelectionSet, out []*ast.FragmentSpread) []*ast.FragmentSpread {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			out = spreadsIn(s.SelectionSet, out)
		case *ast.InlineFragment:
			out = spreadsIn(s.SelectionSet, out)
		case *ast.FragmentSpread:
			out = append(out, s)
		}
	}
	return out
}

// fragmentOrder sorts the fragments so that every fragment comes after the
// fragments it spreads, or reports the first cycle as the validator would
// word it. The depth-first search keeps its own stack, so a chain of
// thousands of fragments cannot overflow the goroutine's.
func fragmentOrder(frags map[string]*ast.FragmentDefinition, defs ast.FragmentDefinitionList) ([]*ast.FragmentDefinition, *gqlerror.Error) {
	const (
		unseen = iota
		onPath
		done
	)
	state := make(map[string]int, len(frags))
	order := make([]*ast.FragmentDefinition, 0, len(frags))
	type frame struct {
		def     *ast.FragmentDefinition
		spreads []*ast.FragmentSpread
		next    int
	}
	for _, root := range defs {
		if frags[root.Name] != root || state[root.Name] != unseen {
			continue
		}
		stack := []frame{{def: root, spreads: spreadsIn(root.SelectionSet, nil)}}
		state[root.Name] = onPath
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(top.spreads) {
				state[top.def.Name] = done
				order = append(order, top.def)
				stack = stack[:len(stack)-1]
				continue
			}
			sp := top.spreads[top.next]
			top.next++
			target := frags[sp.Name]
			if target == nil {
				continue
			}
			switch state[sp.Name] {
			case onPath:
				var via []string
				for i := len(stack) - 1; i >= 0 && stack[i].def.Name != sp.Name; i-- {
					via = append([]string{`"` + stack[i].def.Name + `"`}, via...)
				}
				msg := fmt.Sprintf("Cannot spread fragment %q within itself", sp.Name)
				if len(via) > 0 {
					msg += " via " + strings.Join(via, ", ")
				}
				e := &gqlerror.Error{Message: msg + ".", Extensions: map[string]any{"code": CodeValidationFailed}}
				if sp.Position != nil {
					e.Locations = []gqlerror.Location{{Line: sp.Position.Line, Column: sp.Position.Column}}
				}
				return nil, e
			case unseen:
				state[sp.Name] = onPath
				stack = append(stack, frame{def: target, spreads: spreadsIn(target.SelectionSet, nil)})
			}
		}
	}
	return order, nil
}

// markReached marks the fragments sel reaches, directly or through others.
func markReached(sel ast.SelectionSet, frags map[string]*ast.FragmentDefinition, reached map[string]bool) {
	work := spreadsIn(sel, nil)
	for len(work) > 0 {
		sp := work[len(work)-1]
		work = work[:len(work)-1]
		if reached[sp.Name] || frags[sp.Name] == nil {
			continue
		}
		reached[sp.Name] = true
		work = spreadsIn(frags[sp.Name].SelectionSet, work)
	}
}

// usesIntrospection reports whether op selects __schema or __type, which
// only the query root has.
func usesIntrospection(op *ast.OperationDefinition, doc *ast.QueryDocument) bool {
	seen := map[string]bool{}
	var visit func(ast.SelectionSet) bool
	visit = func(sel ast.SelectionSet) bool {
		for _, s := range sel {
			switch s := s.(type) {
			case *ast.Field:
				if s.Name == "__schema" || s.Name == "__type" {
					return true
				}
			case *ast.InlineFragment:
				if visit(s.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if f := doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
					seen[s.Name] = true
					if visit(f.SelectionSet) {
						return true
					}
				}
			}
		}
		return false
	}
	return visit(op.SelectionSet)
}

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
