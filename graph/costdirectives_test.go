package graph

import (
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// TestCostDirectivesAreTheFieldTable reads the served schema's @cost and
// @listSize and the field table, and fails, naming the directives to write
// in schema.graphqls, where they disagree: every field's directives are
// what its entry's weight and size say, and every entry with either names
// a field of the schema. It also holds the directives to the
// specification's rules: a slicing argument is an Int argument of the
// field, a sized field a list field of the type it returns.
func TestCostDirectivesAreTheFieldTable(t *testing.T) {
	s := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	for _, name := range []string{"cost", "listSize"} {
		if d := s.Directives[name]; d == nil || d.Position == nil || d.Position.Src.BuiltIn {
			t.Fatalf("schema.graphqls does not declare @%s", name)
		}
	}
	if w := s.Directives["cost"].Arguments.ForName("weight"); w == nil || w.Type.String() != "String!" {
		t.Errorf("@cost's weight is not String! as the specification declares it")
	}
	seen := map[string]bool{}
	applied := 0
	for _, def := range s.Types {
		if def.BuiltIn || def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			key := def.Name + "." + f.Name
			seen[key] = true
			want := fields[key].costDirectives()
			got := servedCostDirectives(t, key, f)
			if got != "" {
				applied++
			}
			if got != want {
				t.Errorf("%s: schema.graphqls has %q, the field table says %q", key, got, want)
			}
			if z := fields[key].size; z != nil {
				for _, a := range z.slicingArguments {
					if arg := f.Arguments.ForName(a); arg == nil || arg.Type.Name() != "Int" || arg.Type.Elem != nil {
						t.Errorf("%s: slicing argument %s is not an Int argument of the field", key, a)
					}
				}
				ret := s.Types[f.Type.Name()]
				for _, sf := range z.sizedFields {
					if ret == nil || ret.Fields.ForName(sf) == nil || ret.Fields.ForName(sf).Type.Elem == nil {
						t.Errorf("%s: sized field %s is not a list field of %s", key, sf, f.Type.Name())
					}
				}
				if len(z.sizedFields) == 0 && f.Type.Elem == nil {
					t.Errorf("%s: @listSize on a field that is not a list", key)
				}
			}
		}
	}
	for key, spec := range fields {
		if (spec.weight > 0 || spec.size != nil) && !seen[key] {
			t.Errorf("the field table gives %s cost directives, but the schema has no such field", key)
		}
	}
	if applied < 5 {
		t.Fatalf("only %d fields carry cost directives", applied)
	}
}

// servedCostDirectives writes f's @cost and @listSize as costDirectives
// does, from the schema's own values.
func servedCostDirectives(t *testing.T, key string, f *ast.FieldDefinition) string {
	t.Helper()
	var spec fieldSpec
	if d := f.Directives.ForName("cost"); d != nil {
		w, err := strconv.Atoi(d.Arguments.ForName("weight").Value.Raw)
		if err != nil || w <= 0 {
			t.Errorf("%s: @cost weight %q is not a positive integer", key, d.Arguments.ForName("weight").Value.Raw)
		}
		spec.weight = w
	}
	if d := f.Directives.ForName("listSize"); d != nil {
		spec.size = &listSize{}
		strs := func(a *ast.Argument) []string {
			var out []string
			for _, c := range a.Value.Children {
				out = append(out, c.Value.Raw)
			}
			return out
		}
		for _, a := range d.Arguments {
			switch a.Name {
			case "assumedSize":
				spec.size.assumedSize, _ = strconv.Atoi(a.Value.Raw)
			case "slicingArguments":
				spec.size.slicingArguments = strs(a)
			case "sizedFields":
				spec.size.sizedFields = strs(a)
			case "requireOneSlicingArgument":
			default:
				t.Errorf("%s: @listSize has an unknown argument %s", key, a.Name)
			}
		}
		// costDirectives writes requireOneSlicingArgument: false exactly
		// when there are slicing arguments: a connection pages by first,
		// by last, or by neither.
		r := d.Arguments.ForName("requireOneSlicingArgument")
		if (len(spec.size.slicingArguments) > 0) != (r != nil && r.Value.Raw == "false") || r != nil && r.Value.Raw != "false" {
			t.Errorf("%s: @listSize must say requireOneSlicingArgument: false when, and only when, it has slicing arguments", key)
		}
	}
	return spec.costDirectives()
}

// costDirectives is the text of the cost directives of the field the
// entry describes, as schema.graphqls writes them after the field's type;
// "" when it has none.
func (s fieldSpec) costDirectives() string {
	var b strings.Builder
	if s.weight > 0 {
		b.WriteString(`@cost(weight: "` + strconv.Itoa(s.weight) + `")`)
	}
	if z := s.size; z != nil {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		var args []string
		if z.assumedSize > 0 {
			args = append(args, "assumedSize: "+strconv.Itoa(z.assumedSize))
		}
		if len(z.slicingArguments) > 0 {
			args = append(args, "slicingArguments: "+stringList(z.slicingArguments))
		}
		if len(z.sizedFields) > 0 {
			args = append(args, "sizedFields: "+stringList(z.sizedFields))
		}
		if len(z.slicingArguments) > 0 {
			args = append(args, "requireOneSlicingArgument: false")
		}
		b.WriteString("@listSize(" + strings.Join(args, ", ") + ")")
	}
	return b.String()
}

func stringList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
