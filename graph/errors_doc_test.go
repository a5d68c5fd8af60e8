package graph

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/salesgraph/salesgraph/internal/mdcheck"
)

// errorsDoc is the client teams' error-code table, from this package's
// directory.
const errorsDoc = "../docs/frontend/errors.md"

// errorsDocHeader is the header row of its table of codes.
const errorsDocHeader = "| `extensions.code` | when | status |"

// codeDirs are the packages whose constants named Code… (or code…) are the
// error codes salesgraph answers with: the endpoint's request-level codes,
// this package's field-level and estimate codes, the scalars' own.
var codeDirs = []string{"../gqlhttp", ".", "model"}

// TestErrorCodeTableIsTheCodes keeps docs/frontend/errors.md's table and the
// code's error codes the same set: a code the server can answer with that
// the table lacks fails here, and so does a code in the table that no
// constant defines. The codes are read from the packages' source, so a new
// constant is seen wherever it is declared, with no list to keep in step.
func TestErrorCodeTableIsTheCodes(t *testing.T) {
	defined := map[string]string{} // code → where it is declared
	for _, dir := range codeDirs {
		for code, where := range codeConstants(t, dir) {
			defined[code] = where
		}
	}
	// restclient's classification, through the one table from its kinds
	// of failure to codes.
	for kind, f := range upstreamFailures {
		if _, ok := defined[f.code]; !ok {
			defined[f.code] = "graph.upstreamFailures[" + kind.String() + "]"
		}
	}
	if len(defined) < 30 {
		t.Fatalf("found only %d error codes in %v; has the way codes are declared changed?", len(defined), codeDirs)
	}

	documented := documentedCodes(t)
	for _, code := range sortedKeys(defined) {
		if _, ok := documented[code]; !ok {
			t.Errorf("%s (%s) is missing from %s: add a row saying when it is answered, and its status", code, defined[code], errorsDoc)
		}
	}
	for _, code := range sortedKeys(documented) {
		if _, ok := defined[code]; !ok {
			t.Errorf("%s lists %s, which no Code… constant in gqlhttp, graph or graph/model defines: remove its row, or correct its spelling", errorsDoc, code)
		}
	}
}

var codeValue = regexp.MustCompile(`^[A-Z][A-Z0-9_]*[A-Z0-9]$`)

// codeConstants returns the error codes the non-test Go files of dir
// declare: each constant named Code… or code… with a string literal value.
// One whose value is another code constant (CodeBadUserInput =
// gqlhttp.CodeBadUserInput) is an alias and adds nothing; any other value
// fails, since its code could not be read here.
func codeConstants(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(dir, name)
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !isCodeName(id.Name) || i >= len(vs.Values) {
						continue
					}
					switch v := vs.Values[i].(type) {
					case *ast.BasicLit:
						s, err := strconv.Unquote(v.Value)
						if err != nil || !codeValue.MatchString(s) {
							t.Errorf("%s: %s = %s is not an error code (UPPER_SNAKE_CASE)", fset.Position(id.Pos()), id.Name, v.Value)
							continue
						}
						out[s] = filepath.ToSlash(filepath.Join("graph", path)) + ": " + id.Name
					case *ast.Ident:
						if !isCodeName(v.Name) {
							t.Errorf("%s: cannot read %s's code: make it a string literal or another code constant", fset.Position(id.Pos()), id.Name)
						}
					case *ast.SelectorExpr:
						if !isCodeName(v.Sel.Name) {
							t.Errorf("%s: cannot read %s's code: make it a string literal or another code constant", fset.Position(id.Pos()), id.Name)
						}
					default:
						t.Errorf("%s: cannot read %s's code: make it a string literal or another code constant", fset.Position(id.Pos()), id.Name)
					}
				}
			}
		}
	}
	return out
}

// isCodeName says whether a constant's name declares an error code.
func isCodeName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Code")
	if !ok {
		rest, ok = strings.CutPrefix(name, "code")
	}
	return ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z'
}

var docCode = regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")

// documentedCodes returns the codes of the table's first column, each with
// its status cell.
func documentedCodes(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(errorsDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := mdcheck.Table(string(b), errorsDocHeader)
	if err != nil {
		t.Fatalf("%s: %v", errorsDoc, err)
	}
	out := map[string]string{}
	for _, row := range rows {
		codes := docCode.FindAllStringSubmatch(row[0], -1)
		if len(codes) == 0 {
			t.Errorf("%s: the row %q names no code", errorsDoc, row[0])
		}
		for _, m := range codes {
			if _, dup := out[m[1]]; dup {
				t.Errorf("%s lists %s twice", errorsDoc, m[1])
			}
			out[m[1]] = row[2]
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
