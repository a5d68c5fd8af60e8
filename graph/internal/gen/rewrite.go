package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/codegen/templates"
)

// rewrite edits gqlgen's executor (generated.go) at the sites the plan
// names, which gqlgen has no extension point for (its executor templates
// are embedded in its codegen package and cannot be replaced):
//
//   - the header says the file was rewritten, and by what;
//   - each list marshaler the plan names calls graph's marshalList
//     (graph/lists.go), with the execution context for @stream's
//     elements, instead of graphql.MarshalSliceConcurrently;
//   - each object executor the plan names asks the model's Unreadable, then
//     tries fast_<Type> (fast_gen.go), before gqlgen's own code;
//   - Exec allocates each operation's data buffer at the size graph's
//     dataSize says, instead of growing it by doubling.
//
// The sites are found in the parsed file, by what the plan derived from
// codegen.Data, and every one must be found exactly as often as the plan
// says: when gqlgen's templates change a shape this relies on, rewrite
// fails and says which, instead of writing a slower executor.
func rewrite(filename string, src []byte, p *plan) ([]byte, error) {
	fail := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("%s: "+format+"; gqlgen's output has changed shape, and graph/internal/gen must follow it", append([]any{filename}, args...)...)
	}
	if !bytes.HasPrefix(src, []byte(templates.GeneratedCodeHeader+"\n")) {
		return fail("the file does not begin with gqlgen's header %q", templates.GeneratedCodeHeader)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	offset := func(pos token.Pos) int { return fset.Position(pos).Offset }
	edits := []edit{{0, len(templates.GeneratedCodeHeader), execHeader}}

	methods := map[string]*ast.FuncDecl{} // of executionContext and executableSchema
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil && fn.Body != nil {
			methods[fn.Name.Name] = fn
		}
	}

	// The list marshalers.
	if n := count(f, isCall("graphql", "MarshalSliceConcurrently")); n != len(p.lists) {
		var where []string
		for _, fn := range methods {
			if count(fn, isCall("graphql", "MarshalSliceConcurrently")) > 0 {
				where = append(where, fn.Name.Name)
			}
		}
		slices.Sort(where)
		return fail("graphql.MarshalSliceConcurrently is called %d times (in %s), but codegen.Data has %d list marshalers of non-scalars (%s)",
			n, strings.Join(where, ", "), len(p.lists), strings.Join(p.lists, ", "))
	}
	for _, name := range p.lists {
		fn := methods[name]
		if fn == nil {
			return fail("no list marshaler %s", name)
		}
		if !hasParam(fn, "sel") {
			return fail("%s has no parameter sel, the list's selection set", name)
		}
		var call *ast.CallExpr
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok && isCall("graphql", "MarshalSliceConcurrently")(c) {
				call = c
			}
			return call == nil
		})
		if call == nil || len(call.Args) != 5 || !isIdent(call.Args[0], "ctx") {
			return fail("%s does not call graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshal)", name)
		}
		if fn.Recv == nil || len(fn.Recv.List) != 1 || len(fn.Recv.List[0].Names) != 1 || fn.Recv.List[0].Names[0].Name != "ec" {
			return fail("%s is not a method of the execution context ec", name)
		}
		// graphql.MarshalSliceConcurrently(ctx, ... → marshalList(ec, ctx, sel, ...
		// (ec: its deferred results, for @stream's elements)
		edits = append(edits, edit{offset(call.Fun.Pos()), offset(call.Args[0].End()), "marshalList(ec, ctx, sel"})
	}

	// The object executors.
	for _, o := range p.objects {
		name := "_" + o.Name
		fn := methods[name]
		if fn == nil || !hasParam(fn, "obj") || !hasParam(fn, "ctx") {
			return fail("no object executor %s(ctx, sel, obj)", name)
		}
		first, ok := firstStmt(fn)
		if !ok || !collectsFields(first, o.implementors) {
			return fail("%s does not begin with fields := graphql.CollectFields(ec.OperationContext, sel, %s)", name, o.implementors)
		}
		var hook strings.Builder
		if o.Unreadable {
			hook.WriteString("\tif err := obj.Unreadable(); err != nil {\n" +
				"\t\t// Not an object of this type at all: null in its place, with the\n" +
				"\t\t// error there (the model says why).\n" +
				"\t\tgraphql.AddError(ctx, err)\n\t\treturn graphql.Null\n\t}\n")
		}
		if len(o.Fields) > 0 {
			fmt.Fprintf(&hook, "\tif m := ec.fast_%s(ctx, fields, obj); m != nil {\n\t\treturn m\n\t}\n", o.Name)
		}
		at := offset(first.End())
		edits = append(edits, edit{at, at, "\n" + strings.TrimSuffix(hook.String(), "\n")})
	}

	// The data buffers: var buf bytes.Buffer; data.MarshalGQL(&buf).
	exec := methods["Exec"]
	if exec == nil {
		return fail("no method Exec")
	}
	buffers := 0
	ast.Inspect(exec.Body, func(n ast.Node) bool {
		block, ok := n.(*ast.BlockStmt)
		if !ok {
			return true
		}
		for i := 0; i+1 < len(block.List); i++ {
			if declaresBuffer(block.List[i]) && marshalsData(block.List[i+1]) {
				buffers++
				edits = append(edits, edit{offset(block.List[i].Pos()), offset(block.List[i+1].End()),
					"buf := bytes.NewBuffer(make([]byte, 0, dataSize(ctx)))\n\t\t\tdata.MarshalGQL(buf)"})
			}
		}
		return true
	})
	if buffers != p.roots {
		return fail("Exec marshals data into a `var buf bytes.Buffer` %d times, but the schema has %d operation types with a data buffer (query, mutation)", buffers, p.roots)
	}

	out, err := apply(src, edits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	out, err = format.Source(out)
	if err != nil {
		return nil, fmt.Errorf("%s: the rewritten executor does not parse: %w", filename, err)
	}
	if err := verify(out, p); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return out, nil
}

// edit replaces src[from:to] with text.
type edit struct {
	from, to int
	text     string
}

// apply makes the edits, which must not overlap.
func apply(src []byte, edits []edit) ([]byte, error) {
	slices.SortFunc(edits, func(a, b edit) int { return a.from - b.from })
	var out bytes.Buffer
	at := 0
	for _, e := range edits {
		if e.from < at {
			return nil, fmt.Errorf("overlapping edits at byte %d", e.from)
		}
		out.Write(src[at:e.from])
		out.WriteString(e.text)
		at = e.to
	}
	out.Write(src[at:])
	return out.Bytes(), nil
}

// verify counts, in the rewritten file, what the plan put there.
func verify(src []byte, p *plan) error {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, 0)
	if err != nil {
		return err
	}
	fast, unreadable := 0, 0
	for _, o := range p.objects {
		if len(o.Fields) > 0 {
			fast++
		}
		if o.Unreadable {
			unreadable++
		}
	}
	checks := []struct {
		what      string
		got, want int
	}{
		{"calls of marshalList", count(f, isCall("", "marshalList")), len(p.lists)},
		{"calls of graphql.MarshalSliceConcurrently", count(f, isCall("graphql", "MarshalSliceConcurrently")), 0},
		{"fast paths tried", count(f, func(c *ast.CallExpr) bool {
			s, ok := c.Fun.(*ast.SelectorExpr)
			return ok && isIdent(s.X, "ec") && strings.HasPrefix(s.Sel.Name, "fast_")
		}), fast},
		{"Unreadable checks", count(f, isCall("obj", "Unreadable")), unreadable},
		{"buffers sized by dataSize", count(f, isCall("", "dataSize")), p.roots},
	}
	for _, c := range checks {
		if c.got != c.want {
			return fmt.Errorf("the rewritten executor has %d %s, not %d", c.got, c.what, c.want)
		}
	}
	return nil
}

// isCall matches a call of pkg.name, or of name when pkg is "".
func isCall(pkg, name string) func(*ast.CallExpr) bool {
	return func(c *ast.CallExpr) bool {
		if pkg == "" {
			return isIdent(c.Fun, name)
		}
		s, ok := c.Fun.(*ast.SelectorExpr)
		return ok && s.Sel.Name == name && isIdent(s.X, pkg)
	}
}

// count is how many calls in n match.
func count(n ast.Node, match func(*ast.CallExpr) bool) int {
	c := 0
	ast.Inspect(n, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && match(call) {
			c++
		}
		return true
	})
	return c
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func hasParam(fn *ast.FuncDecl, name string) bool {
	for _, p := range fn.Type.Params.List {
		for _, n := range p.Names {
			if n.Name == name {
				return true
			}
		}
	}
	return false
}

func firstStmt(fn *ast.FuncDecl) (ast.Stmt, bool) {
	if len(fn.Body.List) == 0 {
		return nil, false
	}
	return fn.Body.List[0], true
}

// collectsFields matches fields := graphql.CollectFields(ec.OperationContext, sel, <implementors>).
func collectsFields(s ast.Stmt, implementors string) bool {
	a, ok := s.(*ast.AssignStmt)
	if !ok || a.Tok != token.DEFINE || len(a.Lhs) != 1 || len(a.Rhs) != 1 || !isIdent(a.Lhs[0], "fields") {
		return false
	}
	c, ok := a.Rhs[0].(*ast.CallExpr)
	return ok && isCall("graphql", "CollectFields")(c) && len(c.Args) == 3 &&
		isIdent(c.Args[1], "sel") && isIdent(c.Args[2], implementors)
}

// declaresBuffer matches var buf bytes.Buffer.
func declaresBuffer(s ast.Stmt) bool {
	d, ok := s.(*ast.DeclStmt)
	if !ok {
		return false
	}
	g, ok := d.Decl.(*ast.GenDecl)
	if !ok || g.Tok != token.VAR || len(g.Specs) != 1 {
		return false
	}
	v, ok := g.Specs[0].(*ast.ValueSpec)
	if !ok || len(v.Names) != 1 || v.Names[0].Name != "buf" || len(v.Values) != 0 {
		return false
	}
	t, ok := v.Type.(*ast.SelectorExpr)
	return ok && t.Sel.Name == "Buffer" && isIdent(t.X, "bytes")
}

// marshalsData matches data.MarshalGQL(&buf).
func marshalsData(s ast.Stmt) bool {
	e, ok := s.(*ast.ExprStmt)
	if !ok {
		return false
	}
	c, ok := e.X.(*ast.CallExpr)
	if !ok || !isCall("data", "MarshalGQL")(c) || len(c.Args) != 1 {
		return false
	}
	u, ok := c.Args[0].(*ast.UnaryExpr)
	return ok && u.Op == token.AND && isIdent(u.X, "buf")
}
