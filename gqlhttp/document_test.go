package gqlhttp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// memoProbe is an extension that records the Memo each operation sees.
type memoProbe struct{ seen *[]*gqlhttp.Memo }

func (memoProbe) ExtensionName() string                   { return "MemoProbe" }
func (memoProbe) Validate(graphql.ExecutableSchema) error { return nil }
func (p memoProbe) MutateOperationContext(ctx context.Context, _ *graphql.OperationContext) *gqlerror.Error {
	*p.seen = append(*p.seen, gqlhttp.DocumentMemo(ctx))
	return nil
}

// TestDocumentMemo: the requests of one kept document share its Memo;
// another document has its own; a document too large to keep, or one
// rewritten for its request (@defer answered inline), has none, and a nil
// Memo remembers nothing.
func TestDocumentMemo(t *testing.T) {
	e := newEnv(t)
	var seen []*gqlhttp.Memo
	e.srv.Use(memoProbe{&seen})
	send := func(query string) *gqlhttp.Memo {
		t.Helper()
		res := e.post(query, nil)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Empty(t, res.errors)
		return seen[len(seen)-1]
	}
	a := send(`{ item(id: "1") { id } }`)
	require.NotNil(t, a)
	a.Store("k", 1)
	again := send(`{ item(id: "1") { id } }`)
	assert.Same(t, a, again)
	v, ok := again.Load("k")
	assert.True(t, ok)
	assert.Equal(t, 1, v)

	b := send(`{ item(id: "2") { id } }`)
	require.NotNil(t, b)
	assert.NotSame(t, a, b)
	_, ok = b.Load("k")
	assert.False(t, ok)

	big := send(`{ item(id: "1") { id } }` + strings.Repeat(" ", 32<<10))
	assert.Nil(t, big, "a document too large to keep")
	assert.Nil(t, send(`{ item(id: "7") { id ... @defer { name } } }`), "rewritten without @defer for this request")
	big.Store("k", 1)
	_, ok = big.Load("k")
	assert.False(t, ok)
}

// TestDocumentsAreValidatedOnce: a document is parsed and validated once
// while it is kept, whatever the variables of the requests that send it;
// one too large to keep is validated every time.
func TestDocumentsAreValidatedOnce(t *testing.T) {
	var validated int
	e := newEnv(t, func(o *gqlhttp.Options) {
		gqlhttp.SetValidator(o, func(s *ast.Schema, d *ast.QueryDocument, r *rules.Rules) gqlerror.List {
			validated++
			return validator.ValidateWithRules(s, d, r)
		})
	})
	byVar := `query($id: ID!) { item(id: $id) { id } }`
	for i := range 4 {
		res := e.post(byVar, map[string]any{"id": itoa(i + 1)})
		require.Empty(t, res.errors, "%s", res.body)
		assert.JSONEq(t, `{"item": {"id": "`+itoa(i+1)+`"}}`, string(res.data))
	}
	assert.Equal(t, 1, validated)
	big := `{ item(id: "1") { id } }` + strings.Repeat(" ", 32<<10)
	for range 2 {
		res := e.post(big, nil)
		require.Empty(t, res.errors, "%s", res.body)
	}
	assert.Equal(t, 3, validated, "not kept: validated each time")
}
