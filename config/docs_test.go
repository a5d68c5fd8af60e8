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

var updateDocs = flag.Bool("update-docs", false, "rewrite "+configurationDoc+"'s settings table from the flags")

// configurationDoc is the operators' page holding the settings table, from
// this package's directory.
const configurationDoc = "../docs/operators/configuration.md"

// TestConfigurationTableIsTheFlags keeps the operators' settings table
// (docs/operators/configuration.md) equal to the flags: a flag added,
// renamed or given another default without its row fails here.
// `go test ./config -run TestConfigurationTableIsTheFlags -update-docs`
// rewrites the table.
func TestConfigurationTableIsTheFlags(t *testing.T) {
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

	b, err := os.ReadFile(configurationDoc)
	require.NoError(t, err)
	doc := string(b)
	start := strings.Index(doc, header)
	require.GreaterOrEqual(t, start, 0, configurationDoc+" has no settings table")
	end := start + len(header) // the table ends with its last line that starts with |
	for end < len(doc) && doc[end] == '|' {
		if i := strings.IndexByte(doc[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(doc)
		}
	}
	if got := doc[start:end]; got != want.String() {
		if *updateDocs {
			require.NoError(t, os.WriteFile(configurationDoc, []byte(doc[:start]+want.String()+doc[end:]), 0o644))
			return
		}
		assert.Equal(t, want.String(), got,
			configurationDoc+"'s settings table is not the flags' (go test ./config -run TestConfigurationTableIsTheFlags -update-docs rewrites it)")
	}
}
