package main

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's configuration table from the flags")

// TestREADMEConfigurationTable keeps the README's configuration table equal
// to the flags: a flag added, renamed or given another default without its
// row fails here. `go test -run TestREADMEConfigurationTable -update-readme`
// rewrites the table.
func TestREADMEConfigurationTable(t *testing.T) {
	c, err := parseConfig(nil, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	const header = "| flag | environment | default | meaning |\n|---|---|---|---|\n"
	var want strings.Builder
	want.WriteString(header)
	c.flags.VisitAll(func(f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		env := "—"
		if i := strings.LastIndex(usage, " ("+envPrefix); i >= 0 && strings.HasSuffix(usage, ")") {
			env, usage = "`"+usage[i+2:len(usage)-1]+"`", usage[:i]
		}
		def := "—"
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			def = "`" + f.DefValue + "`"
		}
		want.WriteString("| `-" + f.Name + "` | " + env + " | " + def + " | " + strings.ReplaceAll(usage, "|", `\|`) + " |\n")
	})

	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, header)
	if start < 0 {
		t.Fatal("README.md has no configuration table")
	}
	end := start + strings.Index(readme[start:], "\n\n") + 1
	if got := readme[start:end]; got != want.String() {
		if *updateREADME {
			if err := os.WriteFile("README.md", []byte(readme[:start]+want.String()+readme[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's configuration table is not the flags' (go test -run TestREADMEConfigurationTable -update-readme rewrites it): %s", firstDiff(got, want.String()))
	}
}
