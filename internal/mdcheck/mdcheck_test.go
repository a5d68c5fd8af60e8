package mdcheck_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/internal/mdcheck"
)

func write(t *testing.T, root, name, text string) {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
}

func TestBrokenLinks(t *testing.T) {
	root := t.TempDir()
	write(t, root, "README.md", "# Project\n\n"+
		"[ok](docs/a.md) [ok anchor](docs/a.md#the-codes) [ok repeated](docs/a.md#notes-1)\n"+
		"[ok dir](docs/) [ok here](#project) [web](https://example.com/x.md)\n"+
		"[missing file](docs/nope.md)\n"+
		"[missing anchor](docs/a.md#the-code)\n"+
		"`[in code](nope.md)`\n"+
		"```\n[in a block](nope.md)\n```\n")
	write(t, root, "docs/a.md", "# A page\n\n## The `codes`\n\n## Notes\n\n## Notes\n\n"+
		"[up](../README.md#project) [out](../../x.md) [self](#a-page) [bad self](#b-page)\n")
	write(t, root, "node_modules/x/README.md", "[not ours](nope.md)\n")

	pages, err := mdcheck.Pages(root)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"README.md", "docs/a.md"}, pages)

	broken, err := mdcheck.BrokenLinks(root, pages)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{
		"README.md:5: docs/nope.md: no such file",
		"README.md:6: docs/a.md#the-code: docs/a.md has no heading #the-code",
		"docs/a.md:9: ../../x.md leaves the repository",
		"docs/a.md:9: #b-page: docs/a.md has no heading #b-page",
	}, broken)
}

func TestSlug(t *testing.T) {
	for title, want := range map[string]string{
		"Two commands":                    "two-commands",
		"GraphQL over HTTP":               "graphql-over-http",
		"`@defer`":                        "defer",
		"Apollo Client (4)":               "apollo-client-4",
		"Browsers, CSRF, CORS, isolation": "browsers-csrf-cors-isolation",
		"GET /api/v1/users/{id}/meetings — the user's meetings": "get-apiv1usersidmeetings--the-users-meetings",
		"Zażółć": "zażółć",
	} {
		assert.Equal(t, want, mdcheck.Slug(title), title)
	}
}

func TestTable(t *testing.T) {
	text := "intro\n\n| code | status |\n|---|---|\n| `A`, `B` | 400 |\n| `C` | a \\| b |\n\nafter\n| x | y |\n"
	rows, err := mdcheck.Table(text, "| code | status |")
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"`A`, `B`", "400"}, {"`C`", "a | b"}}, rows)

	_, err = mdcheck.Table(text, "| code | when |")
	assert.Error(t, err)
	_, err = mdcheck.Table("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n", "| a | b |")
	assert.Error(t, err, "a row with a cell too many")
}
