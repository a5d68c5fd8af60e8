package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"
)

// formatSDL writes s as SDL with gqlparser's formatter, without the built-in
// scalars and directives. The formatter omits the schema definition whenever
// its root types have their default names, and with it the schema's
// description, so formatSDL writes that definition itself when there is a
// description to keep.
func formatSDL(w io.Writer, s *ast.Schema) {
	f := formatter.NewFormatter(w, formatter.WithIndent("  "))
	if s.Description == "" {
		f.FormatSchema(s)
		return
	}
	def := &ast.SchemaDefinition{Description: s.Description, Directives: s.SchemaDirectives}
	for _, root := range []struct {
		op  ast.Operation
		def *ast.Definition
	}{{ast.Query, s.Query}, {ast.Mutation, s.Mutation}, {ast.Subscription, s.Subscription}} {
		if root.def != nil {
			def.OperationTypes = append(def.OperationTypes, &ast.OperationTypeDefinition{Operation: root.op, Type: root.def.Name})
		}
	}
	f.FormatSchemaDocument(&ast.SchemaDocument{Schema: ast.SchemaDefinitionList{def}})
	// The rest without the roots and schema directives, which are written
	// above and would otherwise be written twice.
	rest := *s
	rest.Query, rest.Mutation, rest.Subscription, rest.SchemaDirectives = nil, nil, nil, nil
	f.FormatSchema(&rest)
}

// schemaFile parses schema.graphqls, the source of truth.
func schemaFile(t *testing.T) *ast.Schema {
	t.Helper()
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	s, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	return s
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return "no difference"
}

// TestPrintedSchemaIsTheFile proves that -print-schema sdl prints
// schema.graphqls byte for byte, so that a diff of the two shows only the
// directives the server adds at the end, and that the schema salesgraph
// serves (the one compiled into the binary by gqlgen) is the file's: both
// are formatted the same way, so only content can differ, not layout. Each
// added directive is one the server has, with the same arguments and
// locations, an argument's type at most made non-null.
func TestPrintedSchemaIsTheFile(t *testing.T) {
	file, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := PrintSchema(&got, "sdl"); err != nil {
		t.Fatal(err)
	}
	if want := string(file) + addedDirectives; got.String() != want {
		t.Errorf("-print-schema sdl is not schema.graphqls byte for byte, then the added directives (run go generate ./...): %s", firstDiff(got.String(), want))
	}
	if !strings.HasSuffix(got.String(), "\ndirective @defer(if: Boolean! = true, label: String) on FRAGMENT_SPREAD | INLINE_FRAGMENT\n") {
		t.Errorf("printed SDL does not declare @defer:\n%s", got.String()[max(0, got.Len()-300):])
	}

	served := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	var want, formatted bytes.Buffer
	formatSDL(&want, schemaFile(t))
	formatSDL(&formatted, served)
	if formatted.String() != want.String() {
		t.Fatalf("the served schema differs from schema.graphqls (run go generate ./...): %s", firstDiff(formatted.String(), want.String()))
	}
	// The formatter alone would drop the schema's description.
	if !strings.HasPrefix(got.String(), `"""`+"\nsalesgraph: ") {
		t.Errorf("printed SDL does not start with the schema description:\n%.200s", got.String())
	}

	added, perr := parser.ParseSchema(&ast.Source{Name: "added", Input: addedDirectives})
	if perr != nil {
		t.Fatalf("the added directives do not parse: %v", perr)
	}
	if len(added.Directives) == 0 {
		t.Fatal("no directive is added")
	}
	for _, d := range added.Directives {
		sd := served.Directives[d.Name]
		if sd == nil {
			t.Errorf("@%s is added but not served", d.Name)
			continue
		}
		if !slices.Equal(d.Locations, sd.Locations) || d.IsRepeatable != sd.IsRepeatable || len(d.Arguments) != len(sd.Arguments) {
			t.Errorf("@%s: added on %v (repeatable %t) with %d arguments, served on %v (repeatable %t) with %d", d.Name,
				d.Locations, d.IsRepeatable, len(d.Arguments), sd.Locations, sd.IsRepeatable, len(sd.Arguments))
			continue
		}
		for i, a := range d.Arguments {
			sa := sd.Arguments[i]
			nullable := *a.Type
			nullable.NonNull = false
			if a.Name != sa.Name || (a.Type.String() != sa.Type.String() && nullable.String() != sa.Type.String()) ||
				a.DefaultValue.String() != sa.DefaultValue.String() {
				t.Errorf("@%s: added argument %s: %s = %s, served %s: %s = %s", d.Name, a.Name, a.Type, a.DefaultValue, sa.Name, sa.Type, sa.DefaultValue)
			}
		}
	}

	// The printed SDL is itself a schema: the file's, with the directives.
	reparsed, gerr := gqlparser.LoadSchema(&ast.Source{Name: "printed", Input: got.String()})
	if gerr != nil {
		t.Fatalf("printed SDL does not parse: %v", gerr)
	}
	withAdded, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(file)}, &ast.Source{Name: "added", Input: addedDirectives})
	if gerr != nil {
		t.Fatal(gerr)
	}
	var again, expected bytes.Buffer
	formatSDL(&again, reparsed)
	formatSDL(&expected, withAdded)
	if again.String() != expected.String() {
		t.Errorf("printed SDL does not round-trip: %s", firstDiff(again.String(), expected.String()))
	}
}

// introspected is the part of an introspection result this test reads.
type introspected struct {
	Data struct {
		Schema struct {
			Description *string `json:"description"`
			QueryType   struct {
				Name string `json:"name"`
			} `json:"queryType"`
			Types []struct {
				Kind        string  `json:"kind"`
				Name        string  `json:"name"`
				Description *string `json:"description"`
				Fields      []struct {
					Name        string  `json:"name"`
					Description *string `json:"description"`
					Args        []struct {
						Name        string  `json:"name"`
						Description *string `json:"description"`
					} `json:"args"`
				} `json:"fields"`
				InputFields []struct {
					Name        string  `json:"name"`
					Description *string `json:"description"`
				} `json:"inputFields"`
				EnumValues []struct {
					Name        string  `json:"name"`
					Description *string `json:"description"`
				} `json:"enumValues"`
			} `json:"types"`
		} `json:"__schema"`
	} `json:"data"`
}

// TestPrintedIntrospectionDescribesEveryType checks the introspection JSON
// against the file: every type of the file is there, of the right kind, with
// its description, and so is every field, argument, input field and enum
// value.
func TestPrintedIntrospectionDescribesEveryType(t *testing.T) {
	var out bytes.Buffer
	if err := PrintSchema(&out, "introspection"); err != nil {
		t.Fatal(err)
	}
	var got introspected
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("introspection output is not the expected JSON: %v", err)
	}
	file := schemaFile(t)
	s := got.Data.Schema
	if s.Description == nil || *s.Description != file.Description || s.QueryType.Name != "Query" {
		t.Errorf("schema description %v, query type %q", s.Description, s.QueryType.Name)
	}
	desc := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	byName := map[string]int{}
	for i, typ := range s.Types {
		byName[typ.Name] = i
	}
	checked := 0
	for name, def := range file.Types {
		if def.BuiltIn {
			continue
		}
		checked++
		i, ok := byName[name]
		if !ok {
			t.Errorf("type %s is missing from the introspection", name)
			continue
		}
		typ := s.Types[i]
		if typ.Kind != string(def.Kind) {
			t.Errorf("%s: kind %s, want %s", name, typ.Kind, def.Kind)
		}
		// Root types may go undescribed: the schema's description says
		// what the API is for.
		root := def == file.Query || def == file.Mutation || def == file.Subscription
		if desc(typ.Description) != def.Description || def.Description == "" && !root {
			t.Errorf("%s: description %q, want the file's %q (which must not be empty)", name, desc(typ.Description), def.Description)
		}
		want := map[string]string{}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue // __schema and __type, which gqlparser adds to Query
			}
			want[name+"."+f.Name] = f.Description
			for _, a := range f.Arguments {
				want[name+"."+f.Name+"("+a.Name+")"] = a.Description
			}
		}
		for _, v := range def.EnumValues {
			want[name+"."+v.Name] = v.Description
		}
		have := map[string]string{}
		for _, f := range typ.Fields {
			have[name+"."+f.Name] = desc(f.Description)
			for _, a := range f.Args {
				have[name+"."+f.Name+"("+a.Name+")"] = desc(a.Description)
			}
		}
		for _, f := range typ.InputFields {
			have[name+"."+f.Name] = desc(f.Description)
		}
		for _, v := range typ.EnumValues {
			have[name+"."+v.Name] = desc(v.Description)
		}
		for k, w := range want {
			if h, ok := have[k]; !ok || h != w || w == "" {
				t.Errorf("%s: introspected description %q (present %v), want the file's %q (which must not be empty)", k, h, ok, w)
			}
		}
		if len(have) != len(want) {
			t.Errorf("%s: introspection has %d members, the file %d", name, len(have), len(want))
		}
	}
	if checked < 10 {
		t.Fatalf("only %d types checked; did schema.graphqls parse?", checked)
	}
}
