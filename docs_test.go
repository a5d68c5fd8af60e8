package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/internal/mdcheck"
)

// The documentation's own tests: its links lead somewhere, the README stays
// a front door, and the metrics table and the import rules it states are
// the code's. The configuration and error tables are tested by the packages
// that own them (config, graph, gqlhttp).

// TestDocumentationLinksResolve: every relative link of every Markdown page
// of the repository (README.md, docs/, deploy/, CHANGELOG.md) leads to a
// file or directory that exists, and a #fragment to a heading of the page it
// names, so that moving or renaming a page or a heading fails here.
func TestDocumentationLinksResolve(t *testing.T) {
	pages, err := mdcheck.Pages(".")
	require.NoError(t, err)
	require.Contains(t, pages, "README.md")
	require.Contains(t, pages, "docs/frontend/errors.md")
	broken, err := mdcheck.BrokenLinks(".", pages)
	require.NoError(t, err)
	for _, b := range broken {
		t.Error(b)
	}
}

// TestREADMEIsAFrontDoor: the README says what salesgraph is, the two
// commands, a first query and where to go next; everything else belongs to
// a page of docs/, by reader (issue 19).
func TestREADMEIsAFrontDoor(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	if n := strings.Count(string(b), "\n"); n > 400 {
		t.Errorf("README.md has %d lines, more than 400: move what is not the front door into docs/", n)
	}
}

// metricsDoc is the operators' page whose table describes every metric.
const metricsDoc = "docs/operators/observability.md"

// TestMetricsTableIsTheExportedMetrics: the metrics table of
// docs/operators/observability.md names every salesgraph_* metric a server
// exports (vectors with no series yet included) and no metric it does not
// export, so that a metric added, renamed or removed fails here until the
// table says so.
func TestMetricsTableIsTheExportedMetrics(t *testing.T) {
	b, err := os.ReadFile(metricsDoc)
	require.NoError(t, err)
	rows, err := mdcheck.Table(string(b), "| metric | labels | what |")
	require.NoError(t, err, metricsDoc)
	name := regexp.MustCompile("`((?:salesgraph|go|process)_[a-z0-9_]*[a-z0-9])`")
	documented := map[string]bool{}
	for _, row := range rows {
		for _, m := range name.FindAllStringSubmatch(row[0], -1) {
			documented[m[1]] = true
		}
	}
	require.Greater(t, len(documented), 20, "%s's metrics table names too few metrics; has its form changed?", metricsDoc)

	exported := exportedMetrics(t)
	// Registered only with what they watch: the rate limit's queues.
	base, _ := startServer(t, "-upstream-rate-limit", "1000")
	_, body := get(t, base+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			exported[f[2]] = true
		}
	}
	family := func(n string) bool { // not a histogram's _bucket, _sum or _count
		for _, part := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, part); ok && exported[base] {
				return false
			}
		}
		return true
	}
	for n := range exported {
		if strings.HasPrefix(n, "salesgraph_") && family(n) && !documented[n] {
			t.Errorf("salesgraph exports %s, which %s's metrics table does not describe", n, metricsDoc)
		}
	}
	for n := range documented {
		if !exported[n] {
			t.Errorf("%s's metrics table describes %s, which salesgraph does not export", metricsDoc, n)
		}
	}
}

// module is the import path of this repository's packages.
const module = "github.com/salesgraph/salesgraph"

// TestImportRules holds the import rules docs/contributors/architecture.md
// states (tests may import anything, so test files are not read): the
// endpoint, observe, the fake upstream, the in-flight sharing and the
// small infrastructure packages import nothing of ours; restclient knows
// nothing of GraphQL, the configuration or the metrics; the Redis parts
// import only redisconn (and the cache flight, for the headers a key
// leaves out); nothing but main imports config.
func TestImportRules(t *testing.T) {
	imports := ourImports(t)
	for _, pkg := range []string{"gqlhttp", "observe", "connlimit", "redisconn", "ide", "memlimit", "restclient/fakeapi", "flight"} {
		require.Contains(t, imports, pkg)
		if got := imports[pkg]; len(got) > 0 {
			t.Errorf("%s imports %v; it must import nothing of ours", pkg, got)
		}
	}
	for _, dep := range imports["restclient"] {
		if dep == "config" || dep == "observe" || dep == "gqlhttp" || dep == "graph" || strings.HasPrefix(dep, "graph/") {
			t.Errorf("restclient imports %s; it must know nothing of GraphQL, the configuration or the metrics", dep)
		}
	}
	for _, pkg := range []string{"respcache", "ratelimit", "pqstore"} {
		for _, dep := range imports[pkg] {
			if dep != "redisconn" && (pkg != "respcache" || dep != "flight") {
				t.Errorf("%s imports %s; of ours, it may import only redisconn (respcache flight too)", pkg, dep)
			}
		}
	}
	for pkg, deps := range imports {
		if pkg != "." && slices.Contains(deps, "config") {
			t.Errorf("%s imports config; only main does, and hands the values on", pkg)
		}
	}
}

// ourImports returns, for each package of this module (by its directory,
// "." for main), the packages of ours its non-test files import.
func ourImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", "testdata", "deploy", "docs", "artifacts":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		for _, spec := range f.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			if dep, ok := strings.CutPrefix(p, module+"/"); ok && !slices.Contains(out[pkg], dep) {
				out[pkg] = append(out[pkg], dep)
			}
		}
		return nil
	})
	require.NoError(t, err)
	return out
}
