package gqlhttp

import (
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestStreamPayloads drives a stream of non-null elements as the executor
// would (graph's list marshaller: the length recorded, then each later
// element's result under the registry's label) and checks each payload in
// both formats, as graphql-js 17 shapes them: an item, a null that ends
// the stream with its error, and a stream the executor ended early.
func TestStreamPayloads(t *testing.T) {
	items := ast.Path{ast.PathName("items")}
	at := func(i int) ast.Path { return ast.Path{ast.PathName("items"), ast.PathIndex(i)} }
	for _, c := range []struct {
		name   string
		format incrementalFormat
		want   []string
		early  bool // the executor stops after the first item
	}{
		{"v0.2", formatIncrementalV02, []string{
			`{"data":{"items":[{"id":"1"}]},"pending":[{"id":"0","path":["items"],"label":"l"}],"hasNext":true}`,
			`{"incremental":[{"items":[{"id":"2"}],"id":"0"}],"hasNext":true}`,
			`{"completed":[{"id":"0","errors":[{"message":"bad","path":["items",2]}]}],"hasNext":false}`,
		}, false},
		{"2022", formatDefer20220824, []string{
			`{"data":{"items":[{"id":"1"}]},"hasNext":true}`,
			`{"incremental":[{"items":[{"id":"2"}],"path":["items",1],"label":"l"}],"hasNext":true}`,
			`{"incremental":[{"errors":[{"message":"bad","path":["items",2]}],"items":null,"path":["items",2],"label":"l"}],"hasNext":false}`,
		}, false},
		{"v0.2, ended early", formatIncrementalV02, []string{
			`{"data":{"items":[{"id":"1"}]},"pending":[{"id":"0","path":["items"],"label":"l"}],"hasNext":true}`,
			`{"incremental":[{"items":[{"id":"2"}],"id":"0"}],"hasNext":true}`,
			`{"completed":[{"id":"0","errors":[{"message":"the stream ended after 2 of its 4 elements","path":["items"],"extensions":{"code":"CANCELLED"}}]}],"hasNext":false}`,
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := &streamRegistry{label: "\x00stream", lens: map[string]int{objectKey(items): 4}}
			plan := &deferPlan{root: &planNode{fields: map[string]*planField{"items": {stream: &streamUse{initial: 1, label: "l", nonNull: true}}}}}
			d := newDeferrals(plan, reg)
			enc := payloadEncoder{format: c.format}
			encode := func(v any) string {
				b, err := json.Marshal(v)
				require.NoError(t, err)
				return string(b)
			}
			var got []string
			var p part
			data := d.initial(json.RawMessage(`{"items":[{"id":"1"}]}`), &p)
			got = append(got, encode(enc.initial(nil, data, nil, p.announced, d.more())))

			p = part{}
			d.receive(&graphql.Response{Path: at(1), Label: reg.label, Data: json.RawMessage(`{"id":"2"}`)}, &p)
			d.settle(&p)
			got = append(got, encode(enc.subsequent(&p, d.more())))

			p = part{}
			if !c.early {
				d.receive(&graphql.Response{Path: at(2), Label: reg.label, Data: json.RawMessage(`null`), Errors: gqlerror.List{{Message: "bad", Path: at(2)}}}, &p)
				// The element after the one that failed is dropped.
				d.receive(&graphql.Response{Path: at(3), Label: reg.label, Data: json.RawMessage(`{"id":"4"}`)}, &p)
			}
			d.finish()
			d.settle(&p)
			got = append(got, encode(enc.subsequent(&p, d.more())))
			require.Len(t, got, len(c.want))
			for i := range got {
				assert.JSONEq(t, c.want[i], got[i], "payload %d", i)
			}
		})
	}
}

// TestItemsWaitForTheirList: elements of a list inside a deferred
// fragment can come before the fragment that holds the list; they are
// placed once it is.
func TestItemsWaitForTheirList(t *testing.T) {
	list := ast.Path{ast.PathName("item"), ast.PathName("children")}
	reg := &streamRegistry{label: "\x00stream", lens: map[string]int{objectKey(list): 2}}
	child := &planNode{fields: map[string]*planField{"children": {deferred: true, labels: []string{"d"}, stream: &streamUse{}}}, order: []string{"children"}}
	plan := &deferPlan{root: &planNode{fields: map[string]*planField{"item": {child: child}}}}
	d := newDeferrals(plan, reg)
	enc := payloadEncoder{format: formatIncrementalV02}
	var p part
	data := d.initial(json.RawMessage(`{"item":{"id":"7","children":null}}`), &p)
	assert.JSONEq(t, `{"item":{"id":"7"}}`, string(data))
	_, _ = json.Marshal(enc.initial(nil, data, nil, p.announced, d.more()))

	p = part{}
	for i := range 2 {
		d.receive(&graphql.Response{Path: append(list, ast.PathIndex(i)), Label: reg.label, Data: json.RawMessage(`{"id":"7.` + string(rune('1'+i)) + `"}`)}, &p)
	}
	d.settle(&p)
	assert.True(t, p.empty(), "nothing to send before the list's fragment")

	d.receive(&graphql.Response{Path: ast.Path{ast.PathName("item")}, Label: "d", Data: json.RawMessage(`{"children":[]}`)}, &p)
	d.finish()
	d.settle(&p)
	b, err := json.Marshal(enc.subsequent(&p, d.more()))
	require.NoError(t, err)
	assert.JSONEq(t, `{"pending":[{"id":"1","path":["item","children"]}],
		"incremental":[{"id":"0","data":{"children":[]}},{"id":"1","items":[{"id":"7.1"}]},{"id":"1","items":[{"id":"7.2"}]}],
		"completed":[{"id":"0"},{"id":"1"}],"hasNext":false}`, string(b))
}
