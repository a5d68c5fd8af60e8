package graph

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// maxWalkFields bounds how many fields one walk of an operation visits, so
// that a fragment-heavy document cannot make a walk expensive; request limits
// (depth, aliases, cost) refuse such documents before this matters.
const maxWalkFields = 20000

// walker visits every field of an operation below a selection set, resolving
// fragments and @skip/@include the way execution will.
type walker struct {
	op     *graphql.OperationContext
	schema *ast.Schema
	budget int
	// visit is called for each field with the name of the object type it is
	// selected on and the field's depth (1 below the walk's selection);
	// path then gives the field's path. Returning false stops the descent
	// below that field.
	visit func(parent string, f graphql.CollectedField, depth int) bool
	// keys are the response keys down to the field being visited: one
	// stack for the walk, where a path per field cost two allocations
	// each (the slice and the boxed name) that only an error needs.
	keys []string
}

// walk visits sel as a selection on typeName (an object, interface or union).
func (w *walker) walk(typeName string, sel ast.SelectionSet) {
	if w.budget <= 0 {
		return
	}
	for _, obj := range w.possibleTypes(typeName) {
		for _, f := range graphql.CollectFields(w.op, sel, w.satisfies(obj)) {
			w.budget--
			if w.budget <= 0 {
				return
			}
			if f.Definition == nil {
				continue
			}
			w.keys = append(w.keys, f.Alias)
			if w.visit(obj, f, len(w.keys)) && len(f.Selections) > 0 {
				w.walk(f.Definition.Type.Name(), f.Selections)
			}
			w.keys = w.keys[:len(w.keys)-1]
		}
	}
}

// path is the path of the field being visited.
func (w *walker) path() ast.Path {
	p := make(ast.Path, len(w.keys))
	for i, k := range w.keys {
		p[i] = ast.PathName(k)
	}
	return p
}

func (w *walker) possibleTypes(name string) []string {
	return typeSetsOf(w.schema).possibleTypes(name)
}

// satisfies is what gqlgen's CollectFields matches fragments on for obj:
// the type itself, its interfaces and the unions it belongs to.
func (w *walker) satisfies(obj string) []string {
	return typeSetsOf(w.schema).satisfies(obj)
}

// typeSets holds, for one schema, the possible object types of each type
// and the satisfies list of each object type. Walks ask at every selection,
// and finding the unions an object belongs to scans every type of the
// schema: computed per request, that was a tenth of the CPU of a request as
// small as { user(id: 7) { id } }. The lists are shared: read only.
type typeSets struct {
	schema   *ast.Schema
	possible map[string][]string
	satisfy  map[string][]string
}

func (t *typeSets) possibleTypes(name string) []string {
	if p, ok := t.possible[name]; ok {
		return p
	}
	return []string{name} // not a type of the schema: walked as an object
}

func (t *typeSets) satisfies(obj string) []string {
	if s, ok := t.satisfy[obj]; ok {
		return s
	}
	return []string{obj} // not an object type of the schema
}

// lastTypeSets is the schema's typeSets; a handler has one schema (the
// generated one), so one entry is enough, and a test that builds another
// only recomputes.
var lastTypeSets atomic.Pointer[typeSets]

func typeSetsOf(schema *ast.Schema) *typeSets {
	if t := lastTypeSets.Load(); t != nil && t.schema == schema {
		return t
	}
	t := newTypeSets(schema)
	lastTypeSets.Store(t)
	return t
}

func newTypeSets(schema *ast.Schema) *typeSets {
	possible := map[string][]string{}
	satisfy := map[string][]string{}
	for name, def := range schema.Types {
		if def.Kind == ast.Object {
			possible[name] = []string{name}
			out := append([]string{name}, def.Interfaces...)
			for _, u := range schema.Types {
				if u.Kind == ast.Union && slices.Contains(u.Types, name) {
					out = append(out, u.Name)
				}
			}
			slices.Sort(out[1+len(def.Interfaces):]) // the same list every run
			satisfy[name] = out
			continue
		}
		var out []string
		for _, t := range schema.GetPossibleTypes(def) {
			out = append(out, t.Name)
		}
		possible[name] = out
	}
	return &typeSets{schema: schema, possible: possible, satisfy: satisfy}
}

// userNeeds is what a root field's subtree will ask the upstream for, for
// the one user it concerns: a bit per list (by its index), for the list's
// first page, the whole list for one the upstream answers whole.
type userNeeds uint64

// needs is the need of list d.
func needs(d anyList) userNeeds { return 1 << d.info().index }

func (n *userNeeds) add(o userNeeds) { *n |= o }

// all says whether every list is needed: nothing more to learn.
func (n userNeeds) all() bool { return n == 1<<len(lists)-1 }

// start starts loading, without waiting, what n says for user.
func (n userNeeds) start(ctx context.Context, l *Loaders, user int64) {
	for i, d := range lists {
		if n&(1<<i) != 0 {
			d.prefetch(ctx, l, user)
		}
	}
}

// lookAhead finds what field (a root field selected on parent) and the
// selection below it need, as the field table's prefetch entries say
// (fields.go), so that the field's resolver can start every load at once
// instead of one nesting level per round trip. The selection is walked as a
// selection on typeName, the object type the field resolves to: User for
// user and users, the id's own type for node, whose other fragments never
// run. Everything below the field concerns the user it names: the records
// below come from that user's lists, and Meeting.user and Thread.owner are
// the same salesperson.
//
// eager are the loads of n that the first payload needs, for settle: those
// no @defer puts off. It is nil when the operation streams a list below the
// field (or the field itself), whose items go out as each is ready, or when
// the walk ran out of budget and cannot tell.
func lookAhead(op *graphql.OperationContext, schema *ast.Schema, parent string, field graphql.CollectedField, typeName string) (n userNeeds, eager []eagerLoad) {
	streams := field.Directives.ForName("stream") != nil
	// deferredAt is the depth of the deferred field the walk is below, 0
	// when it is below none: visit comes in depth-first order.
	deferredAt := 0
	of := func(parent string, f graphql.CollectedField) {
		spec, ok := fields[parent+"."+f.Name]
		if !ok || spec.prefetch == nil {
			return
		}
		args := f.ArgumentMap(op.Variables)
		need := spec.prefetch(args)
		n.add(need)
		if deferredAt > 0 || need == 0 {
			return
		}
		for i, d := range lists {
			if need&(1<<i) == 0 {
				continue
			}
			e := eagerLoad{list: d}
			if spec.conn == d {
				e.args = args
			}
			if e.args != nil || !slices.ContainsFunc(eager, func(o eagerLoad) bool { return o.list == d && o.args == nil }) {
				eager = append(eager, e)
			}
		}
	}
	of(parent, field)
	w := &walker{op: op, schema: schema, budget: maxWalkFields}
	w.visit = func(parent string, f graphql.CollectedField, depth int) bool {
		if deferredAt > 0 && depth <= deferredAt {
			deferredAt = 0
		}
		if !f.IsNonDeferrable && deferredAt == 0 {
			deferredAt = depth
		}
		if f.Directives.ForName("stream") != nil {
			streams = true
		}
		of(parent, f)
		return true
	}
	w.walk(typeName, field.Selections)
	if streams || w.budget <= 0 {
		eager = nil
	}
	return n, eager
}

// eagerLoad is a load the first payload waits for: list's first page (the
// whole list, for one the upstream answers whole), or, for the connection
// field of a paged list, the pages its arguments (args) select.
type eagerLoad struct {
	list anyList
	args map[string]any // the connection field's; nil for another field
}
