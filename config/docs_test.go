package config

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's configuration table from the flags")

// readmePath is the repository's README, from this package's directory.
const readmePath = "../README.md"

// TestREADMEConfigurationTable keeps the README's configuration table equal
// to the flags: a flag added, renamed or given another default without its
// row fails here. `go test ./config -run TestREADMEConfigurationTable
// -update-readme` rewrites the table.
func TestREADMEConfigurationTable(t *testing.T) {
	c, err := Load(nil, envMap(nil), nil, io.Discard)
	require.NoError(t, err)
	const header = "| flag | environment | default | meaning |\n|---|---|---|---|\n"
	var want strings.Builder
	want.WriteString(header)
	c.flags.VisitAll(func(f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		env := "—"
		if i := strings.LastIndex(usage, " ("+EnvPrefix); i >= 0 && strings.HasSuffix(usage, ")") {
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

	b, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	readme := string(b)
	start := strings.Index(readme, header)
	require.GreaterOrEqual(t, start, 0, "README.md has no configuration table")
	end := start + strings.Index(readme[start:], "\n\n") + 1
	if got := readme[start:end]; got != want.String() {
		if *updateREADME {
			require.NoError(t, os.WriteFile(readmePath, []byte(readme[:start]+want.String()+readme[end:]), 0o644))
			return
		}
		assert.Equal(t, want.String(), got,
			"README.md's configuration table is not the flags' (go test ./config -run TestREADMEConfigurationTable -update-readme rewrites it)")
	}
}
