package main

import (
	"bufio"
	"bytes"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The rooms a newcomer reads (issue 19): package main is the wiring and
// nothing else, and no hand-written Go file is so long that its concerns
// should be files of their own. Generated files are exempt, and named below.
const (
	maxMainCodeLines = 400 // lines of code (not blank, not only comments) in package main's non-test files
	maxFileLines     = 700 // lines of any hand-written Go file, tests included
)

// generatedFiles are the Go files a tool writes, exempt from maxFileLines.
// A file that says it is generated (the "// Code generated … DO NOT EDIT."
// line) must be on this list, and every file on it must say so: no
// hand-written file hides behind the header, and the list stays true.
var generatedFiles = []string{
	"clients/genqlient/generated.go",           // genqlient
	"gqlhttp/internal/testschema/generated.go", // gqlgen, gqlhttp's test schema
	"gqlhttp/internal/testschema/models_gen.go",
	"graph/fast_gen.go", // graph/internal/gen, gqlgen's plugin
	"graph/generated.go",
	"graph/lists_gen.go", // graph/internal/gen
	"graph/model/models_gen.go",
}

// overLimitForNow are hand-written files over maxFileLines that another
// branch of issue 19 is rewriting. The test fails once one of them is back
// under the bound, so that this list only shrinks.
var overLimitForNow = map[string]string{}

// generatedHeader is Go's convention for generated files
// (https://go.dev/s/generatedcode), on a line before the package clause.
var generatedHeader = regexp.MustCompile(`^// Code generated .* DO NOT EDIT\.$`)

func isGenerated(src []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, len(src)+1)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "package ") {
			return false
		}
		if generatedHeader.MatchString(line) {
			return true
		}
	}
	return false
}

// codeLines counts the lines of src that hold code: a token other than a
// comment, a raw string counting every line it spans.
func codeLines(t *testing.T, name string, src []byte) int {
	t.Helper()
	fset := token.NewFileSet()
	file := fset.AddFile(name, fset.Base(), len(src))
	var s scanner.Scanner
	s.Init(file, src, func(pos token.Position, msg string) { t.Fatalf("%s: %s", pos, msg) }, 0) // mode 0: comments skipped
	lines := map[int]bool{}
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return len(lines)
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // inserted at a line's end: no code of its own
		}
		first := file.Line(pos)
		for l := first; l <= first+strings.Count(lit, "\n"); l++ {
			lines[l] = true
		}
	}
}

// TestPackageMainIsWiring holds package main to maxMainCodeLines lines of
// code: loading the configuration, building the parts, serving, draining.
// What is more than wiring belongs in a package of its own (memlimit,
// telemetry, replicas) or with what it serves (graph.PrintSchema,
// fakeapi's ListenAndServe).
func TestPackageMainIsWiring(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	var counts []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		n := codeLines(t, name, src)
		total += n
		counts = append(counts, name+" "+strconv.Itoa(n))
	}
	t.Logf("package main: %d lines of code (%s)", total, strings.Join(counts, ", "))
	if total > maxMainCodeLines {
		t.Errorf("package main has %d lines of code, more than %d: move what is not wiring into the package it belongs to (%s)",
			total, maxMainCodeLines, strings.Join(counts, ", "))
	}
}

// TestNoHandWrittenFileOver700Lines holds every hand-written Go file of the
// repository (tests and the deploy module included) to maxFileLines lines.
func TestNoHandWrittenFileOver700Lines(t *testing.T) {
	var generated, checked []string
	longest, longestLines := "", 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// testdata holds fixtures, some written by tests as they run
			// (graph/internal/gen's), which the go tool does not build.
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		path = filepath.ToSlash(path)
		if isGenerated(src) {
			generated = append(generated, path)
			return nil
		}
		checked = append(checked, path)
		lines := bytes.Count(src, []byte("\n"))
		if lines > longestLines && overLimitForNow[path] == "" {
			longest, longestLines = path, lines
		}
		switch why, known := overLimitForNow[path]; {
		case known && lines <= maxFileLines:
			t.Errorf("%s is %d lines now: take it off overLimitForNow", path, lines)
		case known:
			t.Logf("%s: %d lines, over %d for now (%s)", path, lines, maxFileLines, why)
		case lines > maxFileLines:
			t.Errorf("%s is %d lines, more than %d: split it along its concerns", path, lines, maxFileLines)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(generated)
	want := slices.Sorted(slices.Values(generatedFiles))
	if !slices.Equal(generated, want) {
		t.Errorf("the files marked generated are %q; generatedFiles lists %q: a generated file is listed, a listed one marked", generated, want)
	}
	for path := range overLimitForNow {
		if !slices.Contains(checked, path) {
			t.Errorf("overLimitForNow names %s, which is no hand-written file", path)
		}
	}
	if len(checked) < 100 {
		t.Fatalf("only %d files checked: is the test running at the repository's root?", len(checked))
	}
	t.Logf("%d hand-written files checked, the longest %s (%d lines); skipped as generated: %s",
		len(checked), longest, longestLines, strings.Join(generated, ", "))
}
