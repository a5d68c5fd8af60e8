package main

import (
	"errors"
	"fmt"
	"go/types"
	"path/filepath"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/99designs/gqlgen/codegen/templates"
	"github.com/vektah/gqlparser/v2/ast"
)

// plan is what the generator reads from gqlgen's codegen.Data, the model
// gqlgen renders its own templates from: what fast_gen.go and lists_gen.go
// hold, and which sites of generated.go are rewritten. Everything here is
// decided from gqlgen's meaning of a field (bound to a struct field or a
// method, with or without a context, a resolver, its marshaler), never from
// the text gqlgen writes.
type plan struct {
	// objects are the object executors that get a hook, by name: a fast
	// path, an Unreadable check, or both.
	objects []*object
	// concurrent are the fields ("Type.field") gqlgen's executor resolves
	// on goroutines of their own: resolvers and methods taking a context.
	concurrent []string
	// lists are gqlgen's marshalers of lists of objects, interfaces and
	// enums (whose elements gqlgen marshals on a goroutine each), by name.
	lists []string
	// roots is how many operation types (query, mutation) Exec marshals
	// into a buffer of its own.
	roots int
}

// object is one object type and what its executor is given.
type object struct {
	Name string     // the GraphQL type
	Ref  types.Type // the executor's obj parameter
	// Fields are the plain fields, written by fast_<Name>; none, no fast path.
	Fields []*field
	// Unreadable: the model has `Unreadable() error`, asked before anything
	// else (graph/model says when a record cannot be served as this type).
	Unreadable bool
	// implementors is gqlgen's variable of the type's implementors, which
	// its executor's first statement collects the fields with.
	implementors string
}

// field is a plain field: one whose value needs nothing but the model (a
// struct field, or a method without context or arguments), of a scalar or
// enum type, with no directive, so that gqlgen's executor would only call
// the field middleware and the marshaler around it.
type field struct {
	Name string     // GraphQL
	Type types.Type // the value's Go type (the marshaler's v)
	// Get is the expression of the value and its error, as gqlgen's
	// resolver for the field returns them.
	Get string
	// Write is how the value is written without its marshaler: "str",
	// "int", "bool" or "enum", or "" for a call of the marshaler.
	Write string
	// Deref: Write takes *v (the Go value is a pointer).
	Deref bool
	// OrNull: a nil v is written as null (a nullable pointer).
	OrNull bool
	// NilFallback: a nil v in a non-null field is the executor's to report.
	NilFallback bool
	// FieldContext: the marshaler reports errors (or a null in a non-null
	// field) through the field's context, so it is given one.
	FieldContext bool
	// NonNull: the field is non-null, so a null from its marshaler makes
	// the object null, as on the executor's path.
	NonNull      bool
	Marshal      string // gqlgen's ec.<Marshal>
	FieldCtxFunc string // gqlgen's ec.<FieldCtxFunc>
}

// gqlgenRuntime is the package of gqlgen's runtime marshalers.
const gqlgenRuntime = "github.com/99designs/gqlgen/graphql"

// directWrites are gqlgen's marshalers of built-in scalars that never fail
// nor return null, and the fast writer (graph/fast.go) that writes the
// same bytes.
var directWrites = map[string]string{
	"MarshalString":  "str",
	"MarshalID":      "str",
	"MarshalInt":     "int",
	"MarshalInt32":   "int",
	"MarshalInt64":   "int",
	"MarshalBoolean": "bool",
}

// derive reads the plan from gqlgen's data. It fails when the data cannot
// yield what graph's speed depends on: an executor layout other than a
// single file, an Unreadable method of the wrong signature, or no plain
// field anywhere (an empty fast_gen.go).
func derive(data *codegen.Data) (*plan, error) {
	cfg := data.Config
	if cfg.Exec.Layout != config.ExecLayoutSingleFile {
		return nil, fmt.Errorf("exec.layout is %q: the rewrite of gqlgen's executor expects %q", cfg.Exec.Layout, config.ExecLayoutSingleFile)
	}
	p := &plan{}
	if data.QueryRoot != nil {
		p.roots++
	}
	if data.MutationRoot != nil {
		p.roots++
	}
	// A directive on FIELD runs gqlgen's _fieldMiddleware around every
	// field; one on a field definition, around that field.
	fieldDirectives := len(data.AllDirectives.LocationDirectives(string(ast.LocationField))) > 0
	fast := 0
	for _, o := range data.Objects {
		if o.Root || o.Stream || o.Type == nil || strings.HasPrefix(o.Name, "__") {
			continue
		}
		obj := &object{Name: o.Name, Ref: o.Reference(), implementors: templates.LcFirst(o.Name) + "Implementors"}
		var err error
		if obj.Unreadable, err = unreadable(o); err != nil {
			return nil, err
		}
		for _, f := range o.Fields {
			if f.IsConcurrent() {
				p.concurrent = append(p.concurrent, o.Name+"."+f.Name)
				continue
			}
			if fieldDirectives {
				continue
			}
			if pf, ok := plain(data, f); ok {
				obj.Fields = append(obj.Fields, pf)
			}
		}
		if len(obj.Fields) > 0 {
			fast++
		}
		if len(obj.Fields) > 0 || obj.Unreadable {
			p.objects = append(p.objects, obj)
		}
	}
	if fast == 0 {
		return nil, errors.New("no object has a plain field (a struct field or a method without context or arguments, of a scalar or enum type, without directives): fast_gen.go would be empty. Has the meaning of gqlgen's codegen.Field changed (IsResolver, GoFieldType, MethodHasContext, TypeReference)?")
	}
	slices.SortFunc(p.objects, func(a, b *object) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(p.concurrent)

	for _, t := range data.ReferencedTypes {
		// type.gotpl: a slice of anything but a scalar is marshalled by
		// graphql.MarshalSliceConcurrently in the type's marshaler.
		if t.MarshalFunc() == "" || t.IsPtrToSlice() || t.IsPtrToIntf() || !t.IsSlice() || t.IsScalar() {
			continue
		}
		p.lists = append(p.lists, t.MarshalFunc())
	}
	slices.Sort(p.lists)
	p.lists = slices.Compact(p.lists)
	return p, nil
}

// plain says whether f is a plain field, and how the fast path writes it.
func plain(data *codegen.Data, f *codegen.Field) (*field, bool) {
	t := f.TypeReference
	switch {
	case f.IsResolver, f.MethodHasContext, len(f.Args) > 0, f.HasDirectives(), f.Stream,
		f.IsBatch(), f.HasHaser, f.VOkFunc:
		return nil, false
	case !f.IsMethod() && !f.IsVariable(): // a map
		return nil, false
	case t == nil || t.Definition == nil || t.GQL.Elem != nil:
		return nil, false
	case t.Definition.Kind != ast.Scalar && t.Definition.Kind != ast.Enum:
		return nil, false
	case t.IsPtrToPtr(), t.IsPtrToSlice(), t.IsPtrToIntf(), t.MarshalFunc() == "":
		return nil, false
	}
	p := &field{
		Name:         f.Name,
		Type:         t.GO,
		NonNull:      t.GQL.NonNull,
		NilFallback:  t.IsNilable() && t.GQL.NonNull,
		Marshal:      t.MarshalFunc(),
		FieldCtxFunc: f.FieldContextFunc(),
	}
	// As field.gotpl's resolver for the field.
	switch {
	case f.IsVariable():
		p.Get = f.GoReceiverName + "." + f.GoFieldName + ", nil"
	case f.NoErr:
		p.Get = f.GoReceiverName + "." + f.GoFieldName + "(), nil"
	default:
		p.Get = f.GoReceiverName + "." + f.GoFieldName + "()"
	}
	// As type.gotpl's marshaler for the type.
	switch {
	case t.IsMarshaler && t.IsContext:
		// graphql.WrapContextMarshaler(ctx, v): written through the
		// executor, which gives it the field's context.
		return nil, false
	case t.IsMarshaler:
		// `return v`, after a nil check for a pointer: a value that writes
		// itself, which needs no context. A generated enum (not a
		// pointer) is written here as its MarshalGQL would.
		if !t.IsNilable() && generatedEnum(data.Config, t) {
			p.Write = "enum"
		}
		return p, true
	case t.Marshaler != nil:
		w, builtin := directWrites[t.Marshaler.Name()]
		builtin = builtin && t.Marshaler.Pkg() != nil && t.Marshaler.Pkg().Path() == gqlgenRuntime
		if !builtin || t.IsContext || t.CastType != nil || t.HasEnumValues() || (t.IsTargetNilable() && !t.IsNilable()) {
			// Any other marshaler may report an error or a null at the
			// field's path, so it gets the field's context.
			p.FieldContext = true
			return p, true
		}
		p.Write = w
		p.Deref = !t.IsTargetNilable() && t.IsNilable()
		p.OrNull = p.Deref && !p.NilFallback
		return p, true
	}
	return nil, false
}

// generatedEnum reports whether t is an enum gqlgen's model generator
// wrote (declared in the model file, a string type), whose MarshalGQL
// writes strconv.Quote of the value: the fast path writes the same
// without the call (graph/fast.go's enum, tested against MarshalGQL).
func generatedEnum(cfg *config.Config, t *config.TypeReference) bool {
	if t.Definition.Kind != ast.Enum || !cfg.Model.IsDefined() {
		return false
	}
	named, ok := t.GO.(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return false
	}
	if b, ok := named.Underlying().(*types.Basic); !ok || b.Kind() != types.String {
		return false
	}
	pkg := cfg.Packages.Load(named.Obj().Pkg().Path())
	if pkg == nil || pkg.Fset == nil {
		return false
	}
	declared := pkg.Fset.Position(named.Obj().Pos()).Filename
	return declared != "" && filepath.Clean(declared) == filepath.Clean(cfg.Model.Filename)
}

// unreadable reports whether o's model has a method Unreadable, which must
// take nothing and return an error.
func unreadable(o *codegen.Object) (bool, error) {
	m, _, _ := types.LookupFieldOrMethod(o.Reference(), true, nil, "Unreadable")
	if m == nil {
		return false, nil
	}
	fn, ok := m.(*types.Func)
	if !ok {
		return false, fmt.Errorf("%s: Unreadable of %s must be a method taking nothing and returning error", o.Name, o.Type)
	}
	sig := fn.Type().(*types.Signature)
	errType := types.Universe.Lookup("error").Type()
	if sig.Params().Len() != 0 || sig.Results().Len() != 1 || !types.Identical(sig.Results().At(0).Type(), errType) {
		return false, fmt.Errorf("%s: Unreadable of %s must take nothing and return error, not %s", o.Name, o.Type, sig)
	}
	return true, nil
}
