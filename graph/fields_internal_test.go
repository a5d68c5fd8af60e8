package graph

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestFieldTableMatchesTheSchema: an entry whose key is not a field of the
// schema (a typo, a renamed field) would silently check and cost nothing,
// and a field with arguments but no entry would have them unchecked and
// unpriced; both fail here rather than in production.
func TestFieldTableMatchesTheSchema(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	for key, spec := range fields {
		typ, name, ok := strings.Cut(key, ".")
		require.True(t, ok, key)
		def := schema.Types[typ]
		require.NotNil(t, def, "%s: no type %s", key, typ)
		assert.Equal(t, ast.Object, def.Kind, "%s: entries are keyed by object types, the types the walkers see", key)
		fd := def.Fields.ForName(name)
		if !assert.NotNil(t, fd, "%s: no such field", key) {
			continue
		}
		if spec.users != nil {
			assert.Equal(t, schema.Query.Name, typ, "%s: only root fields name their users", key)
		}
	}
	for _, def := range schema.Types {
		if def.Kind != ast.Object || strings.HasPrefix(def.Name, "__") {
			continue
		}
		for _, fd := range def.Fields {
			if len(fd.Arguments) > 0 && !strings.HasPrefix(fd.Name, "__") {
				assert.Contains(t, fields, def.Name+"."+fd.Name, "a field with arguments has an entry")
			}
		}
	}
}

func TestPageSpan(t *testing.T) {
	for _, c := range []struct {
		offset, n, perPage, pagesCount int
		want                           []int
	}{
		{0, 20, 20, 0, []int{1}},
		{0, 21, 20, 0, []int{1, 2}},
		{0, 0, 20, 0, []int{1}},       // first: 0 still learns the total
		{25, 30, 20, 0, []int{2, 3}},  // threads 25..54
		{25, 30, 20, 2, []int{2}},     // capped at the last page
		{60, 10, 20, 2, []int{4}},     // beyond the last page: one page, which answers empty
		{39, 1, 20, 0, []int{2}},      // the last thread of page 2
		{40, 100, 20, 4, []int{3, 4}}, // to the end
	} {
		assert.Equal(t, c.want, pageSpan(c.offset, c.n, c.perPage, c.pagesCount), "%+v", c)
	}
}
