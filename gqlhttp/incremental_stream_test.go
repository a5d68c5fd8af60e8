package gqlhttp_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// @stream's rules, as graphql-js 17 states them, on the test schema: each
// document is refused before any resolver runs, whatever the client
// accepts. (The sales schema's tests, graph/stream_test.go, deliver the
// elements: the test schema's executor is gqlgen's own, which has no
// @stream.)
func TestStreamRules(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, query string
		vars        map[string]any
		code        string
		msgs        []string
	}{
		{"a scalar", `{ hello @stream }`, nil, gqlhttp.CodeValidationFailed,
			[]string{`Directive "@stream" cannot be used on non-list field "Query.hello".`}},
		{"an object", `{ item(id: "1") @stream { id } }`, nil, gqlhttp.CodeValidationFailed,
			[]string{`Directive "@stream" cannot be used on non-list field "Query.item".`}},
		{"in a fragment", `{ ...F } fragment F on Query { item(id: "1") { parent @stream { id } } }`, nil, gqlhttp.CodeValidationFailed,
			[]string{`Directive "@stream" cannot be used on non-list field "Item.parent".`}},
		{"the mutation root", `mutation { touch @stream }`, nil, gqlhttp.CodeValidationFailed,
			[]string{`Directive "@stream" cannot be used on non-list field "Mutation.touch".`, `Stream directive cannot be used on root mutation type "Mutation".`}},
		{"a negative literal", `{ items(ids: ["1"]) @stream(initialCount: -2) { id } }`, nil, gqlhttp.CodeValidationFailed,
			[]string{"initialCount must be 0 or more"}},
		{"a negative variable", `query ($n: Int!) { items(ids: ["1"]) @stream(initialCount: $n) { id } }`, map[string]any{"n": -1}, gqlhttp.CodeBadUserInput,
			[]string{"initialCount of @stream must be 0 or more"}},
		{"a label from a variable", `query ($l: String) { items(ids: ["1"]) @stream(label: $l) { id } }`, map[string]any{"l": "x"}, gqlhttp.CodeValidationFailed,
			[]string{`Directive "stream"'s label argument must be a static string.`}},
		{"a label twice", `{ items(ids: ["1"]) @stream(label: "x") { id } again: items(ids: ["2"]) @stream(label: "x") { id } }`, nil, gqlhttp.CodeValidationFailed,
			[]string{"Defer/Stream directive label argument must be unique."}},
		{"a stream's label on a later @defer", `{ items(ids: ["1"]) @stream(label: "x") { id } item(id: "2") { ... @defer(label: "x") { name } } }`, nil, gqlhttp.CodeValidationFailed,
			[]string{"Defer/Stream directive label argument must be unique."}},
	} {
		for _, accept := range []string{"multipart/mixed;incrementalSpec=v0.2,application/json;q=0.9", "application/json"} {
			t.Run(c.name+" "+accept, func(t *testing.T) {
				before := e.calls()
				res := e.send(postReq(body(c.query, c.vars), "Accept", accept))
				require.NotEmpty(t, res.errors, "%s", res.body)
				var msgs []string
				for _, err := range res.errors {
					assert.Equal(t, c.code, err.code())
					msgs = append(msgs, err.Message)
				}
				assert.ElementsMatch(t, c.msgs, msgs)
				assert.Equal(t, before, e.calls(), "no resolver ran")
			})
		}
	}
}

// A valid @stream on the test schema's executor, which streams nothing,
// still answers: the whole list in the payload, and nothing pending.
func TestStreamWithoutAStreamingExecutor(t *testing.T) {
	e := newEnv(t)
	q := `{ items(ids: ["1", "2"]) @stream(initialCount: 0, label: "i") { id } }`
	res := e.send(postReq(body(q, nil), "Accept", "application/json"))
	require.Empty(t, res.errors)
	assert.JSONEq(t, `{"items": [{"id": "1"}, {"id": "2"}]}`, string(res.data))
	res = e.send(postReq(body(q, nil), "Accept", "multipart/mixed;incrementalSpec=v0.2"))
	parts := readParts(t, res.header.Get("Content-Type"), res.body)
	require.Len(t, parts, 1)
	assert.JSONEq(t, `{"items": [{"id": "1"}, {"id": "2"}]}`, string(parts[0].Data))
	assert.Empty(t, parts[0].Pending)
}
