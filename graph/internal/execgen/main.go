// Command execgen rewrites gqlgen's generated executor (graph/generated.go)
// in two ways gqlgen has no option for, and writes the code they use:
//
//   - Lists are marshalled on the calling goroutine when nothing below them
//     waits for a load. gqlgen gives every element of a list of objects a
//     goroutine, because an element may hold a field that waits for a
//     dataloader batch; most lists served here hold nothing of the kind.
//     The calls go to graph.marshalList (lists.go), which reads the fields
//     that do wait from lists_gen.go.
//   - An object whose selected fields are all plain (a struct field or a
//     method of the model without context or arguments, of a scalar or
//     enum type) is written straight to JSON by its fast_<Type> function in
//     fast_gen.go, instead of through a field context, the field
//     middleware and a marshaler per field. Anything else (an error, a
//     null where the schema says non-null, a sub-selection, @defer, a
//     panic) falls back to gqlgen's own code for that object, which then
//     behaves exactly as before.
//   - An object whose model has a method `Unreadable() error` (graph/model)
//     is asked first whether its upstream record can be served as that
//     type at all; if not, the object is null in its place, with the error
//     at its path, and none of its fields run. gqlgen has no hook between
//     an object and its fields; a resolver of each field could only report
//     the problem at that field, and only when it is selected.
//   - The buffer an operation's data is marshalled into is allocated at
//     the size its fields were charged to the response meter
//     (graph.dataSize), instead of growing by doubling from nothing: for a
//     large response that held up to 1.6 times its size, after copying as
//     much again on the way.
//
// On the shared benchmark's Q1 (50 users × 40 meetings) these were most of
// the server's CPU. It runs after `gqlgen generate` (the go:generate lines
// in graph/resolver.go), and CI checks its output is current like gqlgen's.
//
// Usage, in graph/: go run ./internal/execgen generated.go
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// gqlgen's list call, up to the arguments it keeps, and its replacement,
// which takes the selection set as well.
const (
	listFrom = "graphql.MarshalSliceConcurrently(ctx, len(v), "
	listTo   = "marshalList(ctx, sel, len(v), "
)

// gqlgen's marshalling of an operation's data, and the same with the
// buffer sized first.
const (
	bufFrom = "var buf bytes.Buffer\n\t\t\tdata.MarshalGQL(&buf)"
	bufTo   = "buf := bytes.NewBuffer(make([]byte, 0, dataSize(ctx)))\n\t\t\tdata.MarshalGQL(buf)"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: execgen generated.go")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "execgen:", err)
		os.Exit(1)
	}
}

func run(generated string) error {
	src, err := os.ReadFile(generated)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, generated, src, 0)
	if err != nil {
		return err
	}
	models, err := os.ReadFile(filepath.Join(filepath.Dir(generated), "model", "models_gen.go"))
	if err != nil {
		return err
	}
	unreadable, err := unreadableTypes(filepath.Join(filepath.Dir(generated), "model"))
	if err != nil {
		return err
	}
	g := &gen{fset: fset, models: models, marshalers: map[string]*ast.FuncDecl{}, objects: map[string]*object{}, unreadable: unreadable}
	g.read(f)
	if len(g.concurrent) == 0 {
		return fmt.Errorf("%s: no field is resolved concurrently; has gqlgen's output changed shape?", generated)
	}

	out := bytes.ReplaceAll(src, []byte(listFrom), []byte(listTo))
	if !bytes.Contains(out, []byte(listTo)) {
		return fmt.Errorf("%s: no %q to rewrite; has gqlgen's output changed shape?", generated, strings.TrimSuffix(listFrom, "("))
	}
	if !bytes.Contains(out, []byte(bufTo)) {
		if !bytes.Contains(out, []byte(bufFrom)) {
			return fmt.Errorf("%s: no %q to rewrite; has gqlgen's output changed shape?", generated, bufFrom)
		}
		out = bytes.ReplaceAll(out, []byte(bufFrom), []byte(bufTo))
	}
	fast, err := g.fastFile()
	if err != nil {
		return err
	}
	out, err = g.hookObjects(out)
	if err != nil {
		return err
	}
	dir := filepath.Dir(generated)
	if err := os.WriteFile(generated, out, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "lists_gen.go"), g.listsFile(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "fast_gen.go"), fast, 0o644)
}

type gen struct {
	fset       *token.FileSet
	concurrent []string                 // "Type.field"
	marshalers map[string]*ast.FuncDecl // ec.marshal* by name
	objects    map[string]*object       // by GraphQL type name
	imports    map[string]string        // generated.go's, by package name
	models     []byte                   // model/models_gen.go, gqlgen's models
	unreadable map[string]bool          // "*model.T" whose T has Unreadable() error
}

// unreadableTypes finds the model types with a method Unreadable() error
// on their pointer, as "*model.T".
func unreadableTypes(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "Unreadable" {
				continue
			}
			star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			id, ok2 := star.X.(*ast.Ident)
			res := fn.Type.Results
			if !ok || !ok2 || len(fn.Type.Params.List) != 0 || res == nil || len(res.List) != 1 || len(res.List[0].Names) > 1 {
				return nil, fmt.Errorf("%s: Unreadable must be a method of a pointer taking nothing and returning error", fset.Position(fn.Pos()))
			}
			if r, ok := res.List[0].Type.(*ast.Ident); !ok || r.Name != "error" {
				return nil, fmt.Errorf("%s: Unreadable must return error", fset.Position(fn.Pos()))
			}
			out["*"+f.Name.Name+"."+id.Name] = true
		}
	}
	return out, nil
}

// object is one object type's executor (_Type) and its plain fields.
type object struct {
	name, goType, implementors string
	fields                     []plainField
}

// plainField is a field whose value needs nothing but the model.
type plainField struct {
	name     string
	get      string // the resolver's return expressions
	typ      string // the Go type the marshaler takes
	marshal  string // ec.<marshal>
	nilable  bool   // typ is a pointer (or slice or map) and the field is non-null
	nonNull  bool   // the marshaler is gqlgen's non-null one
	direct   string // str, int, bool or enum: written without a marshaler
	deref    bool   // the marshaler takes *v (typ is a pointer)
	orNull   bool   // a nil v is written as null
	fieldCtx bool   // the marshaler reports errors or nulls through ctx
	fcFunc   string // ec.fieldContext_<Type>_<field>
}

func (g *gen) text(n ast.Node) string {
	var b bytes.Buffer
	if err := printer.Fprint(&b, g.fset, n); err != nil {
		panic(err)
	}
	return b.String()
}

func (g *gen) read(f *ast.File) {
	g.imports = map[string]string{}
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		name := path[strings.LastIndexByte(path, '/')+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		g.imports[name] = path
	}
	var fieldFuncs []*ast.FuncDecl
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil {
			continue
		}
		name := fn.Name.Name
		switch {
		case strings.HasPrefix(name, "marshal"):
			g.marshalers[name] = fn
		case strings.HasPrefix(name, "__"), !strings.HasPrefix(name, "_"):
		case !strings.Contains(name[1:], "_"):
			g.readObject(fn)
		default:
			fieldFuncs = append(fieldFuncs, fn)
		}
	}
	slices.Sort(g.concurrent)
	g.concurrent = slices.Compact(g.concurrent)
	for _, fn := range fieldFuncs {
		typ, field, _ := strings.Cut(fn.Name.Name[1:], "_")
		if o := g.objects[typ]; o != nil && !slices.Contains(g.concurrent, typ+"."+field) {
			if p, ok := g.plain(typ, field, fn); ok {
				o.fields = append(o.fields, p)
			}
		}
	}
}

// readObject notes an object executor, _Type(ctx, sel, obj), and the fields
// it resolves concurrently.
func (g *gen) readObject(fn *ast.FuncDecl) {
	typeName := fn.Name.Name[1:]
	params := fn.Type.Params.List
	if len(params) == 3 {
		o := &object{name: typeName, goType: g.text(params[2].Type)}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && g.text(call.Fun) == "graphql.CollectFields" && len(call.Args) == 3 {
				o.implementors = g.text(call.Args[2])
			}
			return true
		})
		if o.implementors != "" {
			g.objects[typeName] = o
		}
	}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		cc, ok := n.(*ast.CaseClause)
		if !ok || len(cc.List) != 1 {
			return true
		}
		lit, ok := cc.List[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		name, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		for _, stmt := range cc.Body {
			if calls(stmt, "ResolveConcurrently", "Concurrently") {
				g.concurrent = append(g.concurrent, typeName+"."+name)
				break
			}
		}
		return false
	})
}

func calls(n ast.Node, names ...string) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && slices.Contains(names, sel.Sel.Name) {
			found = true
		}
		return !found
	})
	return found
}

func uses(n ast.Node, idents ...string) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && slices.Contains(idents, id.Name) {
			found = true
		}
		return !found
	})
	return found
}

var (
	pureMarshal = regexp.MustCompile(`^graphql\.Marshal(String|ID|Int|Int32|Int64|Boolean)$`)
)

// plain reads _Type_field: return graphql.ResolveField(ctx, oc, field,
// fieldContext, resolver, middleware, marshal, recover, nonNull).
func (g *gen) plain(typ, field string, fn *ast.FuncDecl) (plainField, bool) {
	if len(fn.Body.List) != 1 {
		return plainField{}, false
	}
	ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return plainField{}, false
	}
	call, ok := ret.Results[0].(*ast.CallExpr)
	if !ok || g.text(call.Fun) != "graphql.ResolveField" || len(call.Args) != 9 {
		return plainField{}, false
	}
	resolver, ok1 := call.Args[4].(*ast.FuncLit)
	marshal, ok2 := call.Args[6].(*ast.FuncLit)
	if !ok1 || !ok2 || g.text(call.Args[5]) != "nil" {
		return plainField{}, false // field directives run in the middleware
	}
	// The resolver must be `return <from obj>` using nothing else.
	if len(resolver.Body.List) != 1 {
		return plainField{}, false
	}
	rr, ok := resolver.Body.List[0].(*ast.ReturnStmt)
	if !ok || uses(rr, "ctx", "rctx", "ec", "fc", "field") || !uses(rr, "obj") {
		return plainField{}, false
	}
	p := plainField{name: field, fcFunc: "fieldContext_" + typ + "_" + field}
	switch len(rr.Results) {
	case 1:
		p.get = g.text(rr.Results[0]) // a call returning (value, error)
	case 2:
		p.get = g.text(rr.Results[0]) + ", " + g.text(rr.Results[1])
	default:
		return plainField{}, false
	}
	// The marshaler: return ec.<m>(ctx, selections, v).
	mp := marshal.Type.Params.List
	if len(marshal.Body.List) != 1 || len(mp) != 3 {
		return plainField{}, false
	}
	p.typ = g.text(mp[2].Type)
	mr, ok := marshal.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(mr.Results) != 1 {
		return plainField{}, false
	}
	mc, ok := mr.Results[0].(*ast.CallExpr)
	if !ok || !strings.HasPrefix(g.text(mc.Fun), "ec.marshal") {
		return plainField{}, false
	}
	p.marshal = strings.TrimPrefix(g.text(mc.Fun), "ec.")
	m := g.marshalers[p.marshal]
	if m == nil || !g.scalarMarshaler(m, &p) {
		return plainField{}, false
	}
	return p, true
}

// scalarMarshaler accepts the marshalers of scalars and enums, and says how
// the fast path must call them.
func (g *gen) scalarMarshaler(m *ast.FuncDecl, p *plainField) bool {
	body := m.Body.List
	nonNull := strings.HasPrefix(m.Name.Name, "marshalN")
	p.nonNull = nonNull
	nilCheck := false
	// if v == nil { ...; return graphql.Null }
	if len(body) > 0 {
		if is, ok := body[0].(*ast.IfStmt); ok && g.text(is.Cond) == "v == nil" {
			p.nilable = nonNull
			body = body[1:]
			nilCheck = true
		}
	}
	if len(body) == 1 { // an enum: return v
		r, ok := body[0].(*ast.ReturnStmt)
		if !ok || len(r.Results) != 1 || g.text(r.Results[0]) != "v" {
			return false
		}
		// An enum (a string type) is returned as it is; so is a value that
		// marshals itself (a JSON scalar), after gqlgen's nil check.
		if !nilCheck && g.gqlgenEnum(p.typ) {
			p.direct = "enum"
		}
		return true
	}
	// _ = sel; [_ = ctx;] res := <scalar>(v or *v); [if res == Null {...}]; return res or Wrap(ctx, res)
	var scalar string
	for _, st := range body {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if g.text(st.Lhs[0]) == "res" {
				c, ok := st.Rhs[0].(*ast.CallExpr)
				if !ok {
					return false
				}
				scalar = g.text(c.Fun)
				if len(c.Args) == 1 {
					p.deref = g.text(c.Args[0]) == "*v"
				}
			}
		case *ast.IfStmt, *ast.ReturnStmt:
		default:
			return false
		}
	}
	// gqlgen writes `_ = sel` in scalar marshalers; any other use of sel is
	// a marshaler of something with fields.
	if scalar == "" || identCount(m.Body, "sel") > 1 {
		return false
	}
	// Builtin scalars never return Null and need no context; anything else
	// (a ContextMarshaler, a custom scalar) reports through the field's
	// context, which the fast path then gives it.
	p.fieldCtx = !pureMarshal.MatchString(scalar) || calls(m.Body, "WrapContextMarshaler", "AddError")
	if !p.fieldCtx {
		switch strings.TrimPrefix(scalar, "graphql.Marshal") {
		case "String", "ID":
			p.direct = "str"
		case "Int", "Int32", "Int64":
			p.direct = "int"
		case "Boolean":
			p.direct = "bool"
		}
		p.orNull = p.deref && !p.nilable
	}
	return true
}

// identCount is how many times the identifier name appears in n.
func identCount(n ast.Node, name string) int {
	count := 0
	ast.Inspect(n, func(x ast.Node) bool {
		if id, ok := x.(*ast.Ident); ok && id.Name == name {
			count++
		}
		return true
	})
	return count
}

// gqlgenEnum reports whether typ (model.X) is an enum as gqlgen generates
// them, whose MarshalGQL quotes its string with strconv.Quote: the fast
// path writes that without the call.
func (g *gen) gqlgenEnum(typ string) bool {
	name, ok := strings.CutPrefix(typ, "model.")
	if !ok {
		return false
	}
	return bytes.Contains(g.models, []byte("func (e "+name+") MarshalGQL(w io.Writer) {\n\t_, _ = fmt.Fprint(w, strconv.Quote(e.String()))\n}")) &&
		bytes.Contains(g.models, []byte("func (e "+name+") String() string {\n\treturn string(e)\n}"))
}

func (g *gen) listsFile() []byte {
	var b bytes.Buffer
	b.WriteString("// Code generated by graph/internal/execgen from generated.go. DO NOT EDIT.\n\n")
	b.WriteString("package graph\n\n")
	b.WriteString("// concurrentFields are the fields the executor resolves on goroutines of\n")
	b.WriteString("// their own, because their resolvers wait for loads (graph/lists.go).\n")
	b.WriteString("var concurrentFields = map[string]bool{\n")
	for _, f := range g.concurrent {
		fmt.Fprintf(&b, "\t%q: true,\n", f)
	}
	b.WriteString("}\n")
	return mustFormat(b.Bytes())
}

func (g *gen) fastObjects() []*object {
	var out []*object
	for _, o := range g.objects {
		if len(o.fields) > 0 {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b *object) int { return strings.Compare(a.name, b.name) })
	return out
}

func (g *gen) fastFile() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by graph/internal/execgen from generated.go. DO NOT EDIT.\n\n")
	b.WriteString("package graph\n\n")
	var body bytes.Buffer
	g.fastFuncs(&body)
	// Import what the code uses, as generated.go imports it.
	b.WriteString("import (\n")
	for _, name := range slices.Sorted(maps.Keys(g.imports)) {
		path := g.imports[name]
		if name != "context" && !regexp.MustCompile(`\b`+name+`\.`).Match(body.Bytes()) {
			continue
		}
		if strings.HasSuffix(path, "/"+name) || path == name {
			fmt.Fprintf(&b, "\t%q\n", path)
		} else {
			fmt.Fprintf(&b, "\t%s %q\n", name, path)
		}
	}
	b.WriteString(")\n\n")
	b.Write(body.Bytes())
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("fast_gen.go: %w\n%s", err, b.Bytes())
	}
	return out, nil
}

func (g *gen) fastFuncs(b *bytes.Buffer) {
	for _, o := range g.fastObjects() {
		fmt.Fprintf(b, "// fast_%s writes obj when every field in fields is plain and resolves\n", o.name)
		fmt.Fprintf(b, "// cleanly, else returns nil for the executor's own path (fast.go).\n")
		fmt.Fprintf(b, "func (ec *executionContext) fast_%s(ctx context.Context, fields []graphql.CollectedField, obj %s) (ret graphql.Marshaler) {\n", o.name, o.goType)
		b.WriteString("\tw := beginFast(fields)\n\tif w == nil {\n\t\treturn nil\n\t}\n")
		b.WriteString("\tdefer func() {\n\t\tif r := recover(); r != nil {\n\t\t\tret = nil // the executor's path runs it again and reports the panic\n\t\t}\n\t\tw.release()\n\t}()\n")
		b.WriteString("\tvar err error\n")
		b.WriteString("\tfor _, field := range fields {\n\t\tswitch field.Name {\n")
		fmt.Fprintf(b, "\t\tcase \"__typename\":\n\t\t\tw.key(field.Alias)\n\t\t\tw.str(%q)\n", o.name)
		for _, p := range o.fields {
			fmt.Fprintf(b, "\t\tcase %q:\n", p.name)
			fmt.Fprintf(b, "\t\t\tvar v %s\n", p.typ)
			fmt.Fprintf(b, "\t\t\tv, err = %s\n", p.get)
			b.WriteString("\t\t\tif err != nil {\n\t\t\t\treturn nil\n\t\t\t}\n")
			if p.nilable {
				b.WriteString("\t\t\tif v == nil {\n\t\t\t\treturn nil\n\t\t\t}\n")
			}
			if p.fieldCtx {
				fmt.Fprintf(b, "\t\t\tfc, err := ec.%s(ctx, field)\n\t\t\tif err != nil {\n\t\t\t\treturn nil\n\t\t\t}\n", p.fcFunc)
				// The marshaler reports at the field's path; a null it
				// returns for a non-null field has been reported, and makes
				// the object null, as on the executor's path.
				fmt.Fprintf(b, "\t\t\tm := ec.%s(graphql.WithFieldContext(ctx, fc), field.Selections, v)\n", p.marshal)
				if p.nonNull {
					b.WriteString("\t\t\tif m == graphql.Null {\n\t\t\t\treturn graphql.Null\n\t\t\t}\n")
				}
				b.WriteString("\t\t\tw.field(field.Alias, m)\n")
			} else if p.direct != "" {
				val := "v"
				if p.deref {
					val = "*v"
				}
				write := map[string]string{"str": "w.str(%s)", "int": "w.int(int64(%s))", "bool": "w.bool(%s)", "enum": "w.enum(string(%s))"}[p.direct]
				b.WriteString("\t\t\tw.key(field.Alias)\n")
				if p.orNull {
					fmt.Fprintf(b, "\t\t\tif v == nil {\n\t\t\t\tw.null()\n\t\t\t} else {\n\t\t\t\t"+write+"\n\t\t\t}\n", val)
				} else {
					fmt.Fprintf(b, "\t\t\t"+write+"\n", val)
				}
			} else {
				fmt.Fprintf(b, "\t\t\tw.field(field.Alias, ec.%s(ctx, field.Selections, v))\n", p.marshal)
			}
		}
		b.WriteString("\t\tdefault:\n\t\t\treturn nil\n\t\t}\n\t}\n\t_ = err\n\treturn w.finish(ctx)\n}\n\n")
	}
}

// hookObjects makes each object executor whose model can be unreadable ask
// first, and each with a fast path try it next.
func (g *gen) hookObjects(src []byte) ([]byte, error) {
	hooked := map[string]bool{}
	for _, o := range slices.SortedFunc(maps.Values(g.objects), func(a, b *object) int { return strings.Compare(a.name, b.name) }) {
		var hook string
		if g.unreadable[o.goType] {
			hooked[o.goType] = true
			hook += "\tif err := obj.Unreadable(); err != nil {\n" +
				"\t\t// Not an object of this type at all: null in its place, with the\n" +
				"\t\t// error there (the model says why).\n" +
				"\t\tgraphql.AddError(ctx, err)\n\t\treturn graphql.Null\n\t}\n"
		}
		if len(o.fields) > 0 {
			hook += fmt.Sprintf("\tif m := ec.fast_%s(ctx, fields, obj); m != nil {\n\t\treturn m\n\t}\n", o.name)
		}
		if hook == "" {
			continue
		}
		line := fmt.Sprintf("\tfields := graphql.CollectFields(ec.OperationContext, sel, %s)\n", o.implementors)
		head := fmt.Sprintf("func (ec *executionContext) _%s(ctx context.Context, sel ast.SelectionSet, obj %s) graphql.Marshaler {\n", o.name, o.goType)
		if bytes.Contains(src, []byte(head+line+hook)) {
			continue
		}
		if !bytes.Contains(src, []byte(head+line)) {
			return nil, fmt.Errorf("no executor %q to hook; has gqlgen's output changed shape?", strings.TrimSpace(head))
		}
		src = bytes.Replace(src, []byte(head+line), []byte(head+line+hook), 1)
	}
	for t := range g.unreadable {
		if !hooked[t] {
			return nil, fmt.Errorf("model type %s has Unreadable, but no object executor takes it; has gqlgen's output changed shape?", t)
		}
	}
	return src, nil
}

func mustFormat(b []byte) []byte {
	out, err := format.Source(b)
	if err != nil {
		panic(err) // fixed Go text
	}
	return out
}
