package graph

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestWhichListsWaitForLoads: a list is marshalled in order only when
// nothing below it waits for a load. Saying "no" wrongly would serialise
// the loads of its elements (one round trip per element); each case names
// the list field whose elements are checked.
func TestWhichListsWaitForLoads(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	cases := []struct {
		name, doc, list string
		waits           bool
	}{
		{"scalar fields", `{ user(id: 1) { meetings { nodes { id status address visits startDate location { latitude } } } } }`, "nodes", false},
		{"a thread lookup", `{ user(id: 1) { meetings { nodes { id thread { name } } } } }`, "nodes", true},
		{"a thread lookup through a fragment", `{ user(id: 1) { meetings { nodes { ...M } } } } fragment M on Meeting { id thread { name } }`, "nodes", true},
		{"a thread lookup through an inline fragment", `{ user(id: 1) { meetings { nodes { ... on Meeting { thread { name } } } } } }`, "nodes", true},
		{"a user's lists two levels down", `{ user(id: 1) { meetings { nodes { user { threads { nodes { id } } } } } } }`, "nodes", true},
		{"a user without lists", `{ user(id: 1) { meetings { nodes { user { id globalId } } } } }`, "nodes", false},
		{"a deferred fragment", `{ user(id: 1) { meetings { nodes { id ... @defer { status } } } } }`, "nodes", true},
		{"users with meetings, which the look-ahead started", `{ users(ids: [1, 2]) { meetings { nodes { id status } } } }`, "users", false},
		{"users with threads, whose later pages it cannot start", `{ users(ids: [1, 2]) { meetings { totalCount } threads { totalCount } } }`, "users", true},
		{"users with their meetings' threads", `{ users(ids: [1, 2]) { meetings { nodes { thread { id } } } } }`, "users", true},
		{"a user the upstream names, with meetings", `{ user(id: 1) { meetings { nodes { user { meetings { totalCount } } } } } }`, "nodes", true},
		{"users without lists", `{ users(ids: [1, 2]) { id globalId } }`, "users", false},
		{"thread meetings", `{ user(id: 1) { threads { nodes { id meetings { id } } } } }`, "nodes", true},
		{"skip is not evaluated", `query($s: Boolean!) { user(id: 1) { meetings { nodes { id thread @skip(if: $s) { id } } } } }`, "nodes", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := gqlparser.LoadQuery(schema, c.doc)
			require.Nil(t, err)
			sel := findField(doc.Operations[0].SelectionSet, c.list)
			require.NotNil(t, sel, "no field %s", c.list)
			assert.Equal(t, c.waits, selectionWaits(sel.SelectionSet, false))
		})
	}
}

func findField(sel ast.SelectionSet, name string) *ast.Field {
	for _, s := range sel {
		if f, ok := s.(*ast.Field); ok {
			if f.Name == name {
				return f
			}
			if got := findField(f.SelectionSet, name); got != nil {
				return got
			}
		}
	}
	return nil
}
