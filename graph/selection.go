package graph

import (
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
	// selected on and the field's path of response keys; returning false stops
	// the descent below that field.
	visit func(parent string, f graphql.CollectedField, path ast.Path) bool
}

// walk visits sel as a selection on typeName (an object, interface or union).
func (w *walker) walk(typeName string, sel ast.SelectionSet, path ast.Path) {
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
			p := append(path[:len(path):len(path)], ast.PathName(f.Alias))
			if !w.visit(obj, f, p) || len(f.Selections) == 0 {
				continue
			}
			w.walk(f.Definition.Type.Name(), f.Selections, p)
		}
	}
}

func (w *walker) possibleTypes(name string) []string {
	def := w.schema.Types[name]
	if def == nil || def.Kind == ast.Object {
		return []string{name}
	}
	var out []string
	for _, t := range w.schema.GetPossibleTypes(def) {
		out = append(out, t.Name)
	}
	return out
}

func (w *walker) satisfies(obj string) []string {
	out := []string{obj}
	if def := w.schema.Types[obj]; def != nil {
		out = append(out, def.Interfaces...)
	}
	for _, u := range w.schema.Types {
		if u.Kind == ast.Union {
			for _, t := range u.Types {
				if t == obj {
					out = append(out, u.Name)
				}
			}
		}
	}
	return out
}

// userNeeds is what a root field's subtree will ask the upstream for, for
// the one user it concerns.
type userNeeds struct {
	meetings   bool // the user's meetings list
	threadPage bool // page 1 of the user's threads (a connection, or a thread lookup)
}

func (n *userNeeds) add(o userNeeds) {
	n.meetings = n.meetings || o.meetings
	n.threadPage = n.threadPage || o.threadPage
}

func (n userNeeds) all() bool { return n.meetings && n.threadPage }

// lookAhead finds what field (a root field selected on parent) and the
// selection below it need, as the field table's prefetch entries say
// (fields.go), so that the field's resolver can start every load at once
// instead of one nesting level per round trip. The selection is walked as a
// selection on typeName, the object type the field resolves to: User for
// user and users, the id's own type for node, whose other fragments never
// run. Everything below the field concerns the user it names: meetings and
// threads come from that user's lists, and Meeting.user and Thread.owner
// are the same salesperson.
func lookAhead(op *graphql.OperationContext, schema *ast.Schema, parent string, field graphql.CollectedField, typeName string) userNeeds {
	var n userNeeds
	needs := func(parent string, f graphql.CollectedField) userNeeds {
		if spec, ok := fields[parent+"."+f.Name]; ok && spec.prefetch != nil {
			return spec.prefetch(f.ArgumentMap(op.Variables))
		}
		return userNeeds{}
	}
	if n.add(needs(parent, field)); n.all() {
		return n
	}
	w := &walker{op: op, schema: schema, budget: maxWalkFields}
	w.visit = func(parent string, f graphql.CollectedField, _ ast.Path) bool {
		if n.add(needs(parent, f)); n.all() {
			w.budget = 0 // nothing more to learn
		}
		return true
	}
	w.walk(typeName, field.Selections, nil)
	return n
}
