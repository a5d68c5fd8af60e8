package gqlhttp

import (
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
)

// Document limits are enforced in two passes, each before anything that
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
//
// What an operation will cost once its variables are known (fields in the
// response, calls to an upstream) is the schema's business: a gqlgen
// OperationContextMutator added with Server.Use, which runs after these
// passes and validation, and before execution.

// saturation caps every sum and product of the measures (a document's
// fields, aliases and depth here; an operation's estimated cost in a
// caller's extension), so that a fragment spread 2^60 times reads as "too
// many", never as a wrapped number.
const saturation = int64(1) << 40

// SatAdd is a + b for measures (counts, or results of SatAdd and SatMul),
// capped where FormatCount says "more than a trillion". A caller's own limits (an
// extension's cost estimate) count with it to count as the endpoint does.
func SatAdd(a, b int64) int64 { return min(a+b, saturation) }

// SatMul is a × b for measures not negative, capped as SatAdd's.
func SatMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > saturation/b {
		return saturation
	}
	return min(a*b, saturation)
}

// FormatCount renders a measure of SatAdd and SatMul honestly, for an
// error message: the number, or "more than a trillion" once capped.
func FormatCount(n int64) string {
	if n >= saturation {
		return "more than a trillion"
	}
	return fmt.Sprint(n)
}

// LimitError is the request error for a breached limit: code, the limit in
// extensions.limit, and where in the document. A caller's own limits (an
// extension's cost estimate) use it to read as the endpoint's do.
func LimitError(code, msg string, limit int, pos *ast.Position) *gqlerror.Error {
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
func (s *Options) maxNesting() int { return 4*s.MaxDepth + 16 }

// scanDocument counts src's tokens and bracket nesting, stopping at the
// first limit passed. A lexical error ends the scan without an error: the
// parser then reports it with a better message.
func (s *Options) scanDocument(src string) *gqlerror.Error {
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
			return LimitError(CodeTokenLimit, fmt.Sprintf("the document has more than %d tokens", s.MaxTokens), s.MaxTokens, &tok.Pos)
		}
		switch tok.Kind {
		case lexer.BraceL, lexer.BracketL, lexer.ParenL:
			if depth++; depth > limit {
				return LimitError(CodeDepthLimit, fmt.Sprintf("the document nests brackets more than %d levels deep", limit), s.MaxDepth, &tok.Pos)
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
	a.aliases = SatAdd(a.aliases, b.aliases)
	a.fields = SatAdd(a.fields, b.fields)
	a.root = SatAdd(a.root, b.root)
}

// checkDocument enforces the document's static limits and refuses fragment
// cycles, before validation. Every operation of the document is checked, not
// just the one requested, because the validator walks them all.
func (s *Options) checkDocument(doc *ast.QueryDocument) *gqlerror.Error {
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
		total = SatAdd(total, sh.fields)
		pos := op.Position
		switch {
		case sh.depth > int64(s.MaxDepth):
			return LimitError(CodeDepthLimit, fmt.Sprintf("the operation nests fields %s levels deep; at most %d are allowed (fields inside fragments count)", FormatCount(sh.depth), s.MaxDepth), s.MaxDepth, pos)
		case sh.aliases > int64(s.MaxAliases):
			return LimitError(CodeAliasLimit, fmt.Sprintf("the operation has %s aliased fields; at most %d are allowed (fragments count wherever they are spread)", FormatCount(sh.aliases), s.MaxAliases), s.MaxAliases, pos)
		case sh.root > int64(s.MaxRootFields):
			return LimitError(CodeRootFieldLimit, fmt.Sprintf("the operation selects %s root fields; at most %d are allowed", FormatCount(sh.root), s.MaxRootFields), s.MaxRootFields, pos)
		}
		markReached(op.SelectionSet, frags, reached)
	}
	// The validator also walks fragments that no operation spreads, and
	// every definition of a name defined twice (it reports the duplicate,
	// but only after walking it).
	for _, f := range order {
		if !reached[f.Name] {
			total = SatAdd(total, shapes[f.Name].fields)
		}
	}
	for _, f := range doc.Fragments {
		if frags[f.Name] != f {
			total = SatAdd(total, measure(f.SelectionSet, shapes).fields)
		}
	}
	if total > int64(s.MaxFields) {
		return LimitError(CodeFieldLimit, fmt.Sprintf("the document selects %s fields; at most %d are allowed (fragments count wherever they are spread)", FormatCount(total), s.MaxFields), s.MaxFields, nil)
	}
	return nil
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
			out.fields = SatAdd(out.fields, SatAdd(child.fields, 1))
			out.aliases = SatAdd(out.aliases, child.aliases)
			if s.Alias != "" && s.Alias != s.Name {
				out.aliases = SatAdd(out.aliases, 1)
			}
			out.root = SatAdd(out.root, 1)
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
