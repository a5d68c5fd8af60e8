package gqlhttp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// @stream: a list field's elements after its first initialCount, each in a
// later part of the incremental response, in the list's order.
//
//	{"data":{"users":[]},"pending":[{"id":"0","path":["users"]}],"hasNext":true}
//	{"incremental":[{"id":"0","items":[{"id":"1",…}]}],"hasNext":true}
//	{"incremental":[{"id":"0","items":[{"id":"2",…}]}],"completed":[{"id":"0"}],"hasNext":false}
//
// and in deferSpec=20220824, {"items":[…],"path":["users",1]}.
//
// gqlgen has no @stream, so the work is split. The executor's list
// marshaller asks StreamList whether the list it is marshalling streams; if
// so it marshals the first elements as usual, resolves each later one on a
// goroutine of its own, and sends each, in order, as a result of gqlgen's
// deferred channel (graphql.DeferredResult) carrying the element's path and
// the ListStream's Label: the same channel, counters and payload reads as
// @defer, so hasNext, the response interceptors and the executor's end are
// gqlgen's own. This file owns the rest, schema-agnostic: the directive's
// arguments, its validation, the lengths the executor reports, and turning
// those results into items of a pending stream (deferrals.item).

// streamUse is @stream on a field, its arguments evaluated.
type streamUse struct {
	initial int    // elements in the payload that holds the list
	label   string // the client's, for the pending result
	nonNull bool   // the list's elements are non-null: a null one ends the stream
}

// streamArgs reads @stream among a field's directives with the operation's
// variables: on is false without it, or with if: false. A null if streams,
// as in graphql-js. A negative initialCount is returned as it is, for the
// checks before execution to refuse.
func streamArgs(ds ast.DirectiveList, vars map[string]any) (s streamUse, on bool) {
	d := ds.ForName("stream")
	if d == nil {
		return s, false
	}
	if v, ok := argValue(d, "if", vars).(bool); ok && !v {
		return s, false
	}
	s.initial = toInt(argValue(d, "initialCount", vars))
	s.label, _ = argValue(d, "label", vars).(string)
	return s, true
}

func argValue(d *ast.Directive, name string, vars map[string]any) any {
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return nil
	}
	v, err := a.Value.Value(vars)
	if err != nil {
		return nil
	}
	return v
}

// toInt reads an Int argument as the parser or the variables' coercion
// gives it, clamped to an int32's range.
func toInt(v any) int {
	var f float64
	switch n := v.(type) {
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case int32:
		f = float64(n)
	case float64:
		f = n
	case json.Number:
		f, _ = n.Float64()
	default:
		return 0
	}
	return int(max(min(f, math.MaxInt32), math.MinInt32))
}

// The validation rules of graphql-js 17 for @stream, in its words, so that
// a document valid there is valid here. A literal negative initialCount is
// refused here too; one from a variable by checkStreamCounts. The walker
// visits a fragment's fields once per spread and once as a definition:
// each directive is judged once (first).
func addStreamRules(r *rules.Rules) {
	r.AddRule("StreamDirectiveOnListField", func(observers *core.Events, addError core.AddErrFunc) {
		first := firstVisit()
		observers.OnField(func(walker *core.Walker, field *ast.Field) {
			d := field.Directives.ForName("stream")
			if d == nil || field.Definition == nil || field.ObjectDefinition == nil || !first(d) {
				return
			}
			if field.Definition.Type.Elem == nil {
				addError(core.Message(`Directive "@stream" cannot be used on non-list field "%s.%s".`, field.ObjectDefinition.Name, field.Name), core.At(d.Position))
			}
			if a := d.Arguments.ForName("initialCount"); a != nil && a.Value != nil && a.Value.Kind == ast.IntValue && strings.HasPrefix(a.Value.Raw, "-") {
				addError(core.Message("initialCount must be 0 or more"), core.At(a.Position))
			}
		})
	})
	r.AddRule("DeferStreamDirectiveOnRootField", func(observers *core.Events, addError core.AddErrFunc) {
		first := firstVisit()
		observers.OnField(func(walker *core.Walker, field *ast.Field) {
			d := field.Directives.ForName("stream")
			if d == nil || field.ObjectDefinition == nil || !first(d) {
				return
			}
			if m := walker.Schema.Mutation; m != nil && field.ObjectDefinition.Name == m.Name {
				addError(core.Message(`Stream directive cannot be used on root mutation type "%s".`, m.Name), core.At(d.Position))
			}
			if s := walker.Schema.Subscription; s != nil && field.ObjectDefinition.Name == s.Name {
				addError(core.Message(`Stream directive cannot be used on root subscription type "%s".`, s.Name), core.At(d.Position))
			}
		})
	})
	r.AddRule("DeferStreamDirectiveOnValidOperations", func(observers *core.Events, addError core.AddErrFunc) {
		first := firstVisit()
		observers.OnField(func(walker *core.Walker, field *ast.Field) {
			d := field.Directives.ForName("stream")
			if d == nil || walker.CurrentOperation == nil || walker.CurrentOperation.Operation != ast.Subscription {
				return
			}
			if a := d.Arguments.ForName("if"); a != nil && a.Value != nil && a.Value.Kind == ast.BooleanValue && a.Value.Raw == "false" {
				return
			}
			if !first(d) { // the fragment that holds it, spread again
				return
			}
			addError(core.Message("Stream directive not supported on subscription operations. Disable `@stream` by setting the `if` argument to `false`."), core.At(d.Position))
		})
	})
	r.AddRule("DeferStreamDirectiveLabel", func(observers *core.Events, addError core.AddErrFunc) {
		labels := map[string]string{} // the name of the first directive with each label
		first := firstVisit()
		observers.OnDirective(func(walker *core.Walker, d *ast.Directive) {
			if d.Name != "stream" && d.Name != "defer" || !first(d) {
				return
			}
			a := d.Arguments.ForName("label")
			if a == nil || a.Value == nil {
				return
			}
			if a.Value.Kind != ast.StringValue && a.Value.Kind != ast.BlockValue {
				if d.Name == "stream" { // gqlgen groups @defer by label as it is
					addError(core.Message(`Directive "%s"'s label argument must be a static string.`, d.Name), core.At(a.Position))
				}
				return
			}
			// gqlgen merges the @defer fragments of one label into one
			// result, which clients rely on, so only a stream's label must
			// name it alone.
			if prev, ok := labels[a.Value.Raw]; ok && (prev == "stream" || d.Name == "stream") {
				addError(core.Message("Defer/Stream directive label argument must be unique."), core.At(a.Position))
			}
			if _, ok := labels[a.Value.Raw]; !ok {
				labels[a.Value.Raw] = d.Name
			}
		})
	})
}

// firstVisit reports, for one validation, whether a directive is seen for
// the first time.
func firstVisit() func(*ast.Directive) bool {
	seen := map[*ast.Directive]bool{}
	return func(d *ast.Directive) bool {
		if seen[d] {
			return false
		}
		seen[d] = true
		return true
	}
}

// checkStreamCounts refuses, before anything runs, an initialCount that a
// variable makes negative (a literal one fails validation). graphql-js
// makes it a field error at execution; here it is known before any
// resolver starts, as bad arguments are.
func checkStreamCounts(op *ast.OperationDefinition, doc *ast.QueryDocument, vars map[string]any) *reqError {
	var bad *ast.Position
	var walk func(ast.SelectionSet)
	walk = func(sel ast.SelectionSet) {
		for _, s := range sel {
			if bad != nil {
				return
			}
			switch s := s.(type) {
			case *ast.Field:
				if u, on := streamArgs(s.Directives, vars); on && u.initial < 0 {
					bad = s.Position
					return
				}
				walk(s.SelectionSet)
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			}
		}
	}
	walk(op.SelectionSet)
	for _, f := range doc.Fragments {
		walk(f.SelectionSet)
	}
	if bad == nil {
		return nil
	}
	e := requestErr(http.StatusBadRequest, CodeBadUserInput, "initialCount of @stream must be 0 or more")
	e.errs[0].Locations = []gqlerror.Location{{Line: bad.Line, Column: bad.Column}}
	return e
}

// streamsKey holds the response's *streamRegistry in the executor's
// context: only an incrementally delivered operation has one.
type streamsKey struct{}

// streamRegistry is what the executor tells the transport about the
// streamed lists of one response: their lengths, by objectKey of their
// path. The executor writes it before it sends the payload that holds a
// list; the transport reads it when it cuts that payload.
type streamRegistry struct {
	label string // the executor's label for an item's result; no @defer has it
	mu    sync.Mutex
	lens  map[string]int
}

func newStreamRegistry() *streamRegistry {
	return &streamRegistry{label: itemLabel, lens: map[string]int{}}
}

func (r *streamRegistry) length(key string) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.lens[key]
	return n, ok
}

// itemLabel is the executor's label for an item's result, which comes
// through gqlgen's deferred channel as a deferred fragment's does, with a
// label and a path. It never reaches the wire; random, once per process, no
// client can give a @defer the same label, as a literal or in a variable.
var itemLabel = "\x00stream\x00" + rand.Text()

// ListStream is how the executor delivers a list field with @stream.
type ListStream struct {
	// Initial is how many of the list's first elements go in the payload
	// that holds the list, as without @stream.
	Initial int
	// Label is the label of each later element's result: the executor
	// sends elements Initial to n-1, in order, each as a
	// graphql.DeferredResult with the element's path (the list's, then
	// its index) and this label, counted in the execution's pending
	// deferred results before the payload that holds the list is sent.
	Label string
}

// StreamList says whether the list field marshalled under ctx (the list
// field's own context), of n elements, is streamed in this response, and
// records its length for the transport. It is false for a response that
// is not delivered incrementally (the client accepts only JSON: @stream was
// removed), without @stream or with if: false, and when the list has no
// element past initialCount, which then goes whole in its payload as
// graphql-js sends it.
func StreamList(ctx context.Context, n int) (ListStream, bool) {
	reg, _ := ctx.Value(streamsKey{}).(*streamRegistry)
	if reg == nil || !graphql.HasOperationContext(ctx) {
		return ListStream{}, false
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return ListStream{}, false
	}
	u, on := streamArgs(fc.Field.Directives, graphql.GetOperationContext(ctx).Variables)
	if !on || n <= u.initial || u.initial < 0 {
		return ListStream{}, false
	}
	key := objectKey(fc.Path())
	reg.mu.Lock()
	reg.lens[key] = n
	reg.mu.Unlock()
	return ListStream{Initial: u.initial, Label: reg.label}, true
}

// listStream is a streamed list of the response: announced when the
// payload holding it is sent, completed after its last element.
type listStream struct {
	pendingResult
	node *planNode // the elements' selections
	use  *streamUse
	next int // the index of the next element
	end  int // the list's length
	done bool
}

// announceStream makes the list at path pending, if the executor streams
// it (it recorded its length); the elements that came before it are
// placed by settle.
func (d *deferrals) announceStream(path ast.Path, f *planField, value []byte, out *part) {
	if d.reg == nil || len(value) == 0 || value[0] != '[' {
		return // not streamed here, or null
	}
	key := objectKey(path)
	n, ok := d.reg.length(key)
	if !ok || n <= f.stream.initial || d.lists[key] != nil {
		return
	}
	ls := &listStream{pendingResult: pendingResult{path: slices.Clone(path), label: f.stream.label, stream: true}, node: f.child, use: f.stream, next: f.stream.initial, end: n}
	d.lists[key] = ls
	d.streams = append(d.streams, ls)
	d.open++
	out.announced = append(out.announced, &ls.pendingResult)
	if _, ok := d.waitingItems[key]; ok {
		// After what delivers the list (settle): a client places items in
		// a list it has.
		d.drain = append(d.drain, key)
	}
}

// drainItems places the elements that came before their list, now
// announced.
func (d *deferrals) drainItems(out *part) {
	for len(d.drain) > 0 {
		key := d.drain[0]
		d.drain = d.drain[1:]
		w := d.waitingItems[key]
		delete(d.waitingItems, key)
		for _, resp := range w {
			d.item(resp, out)
		}
	}
}

// isItem reports whether resp is a streamed element's result.
func (d *deferrals) isItem(resp *graphql.Response) bool {
	if d.reg == nil || resp.Label != d.reg.label || len(resp.Path) == 0 {
		return false
	}
	_, ok := resp.Path[len(resp.Path)-1].(ast.PathIndex)
	return ok
}

// item takes a streamed element's result: the next item of its list, or
// the end of a list whose non-null element was null (graphql-js's
// completed with errors). One whose list was not delivered yet waits for
// it; past the executor's end, for a list that was null, it is dropped.
func (d *deferrals) item(resp *graphql.Response, out *part) {
	listPath := resp.Path[:len(resp.Path)-1]
	at := int(resp.Path[len(resp.Path)-1].(ast.PathIndex))
	key := objectKey(listPath)
	ls := d.lists[key]
	if ls == nil {
		d.waitingItems[key] = append(d.waitingItems[key], resp)
		return
	}
	if ls.done {
		return // its stream failed before it
	}
	ls.next = at + 1
	if len(resp.Data) == 0 || string(resp.Data) == "null" && ls.use.nonNull {
		ls.done = true
		d.open--
		out.completed = append(out.completed, completion{pending: &ls.pendingResult, errors: resp.Errors, extensions: resp.Extensions, at: at})
		return
	}
	var w bytes.Buffer
	w.Grow(len(resp.Data) + 2)
	w.WriteByte('[')
	d.cut(&w, resp.Data, slices.Clone(resp.Path), ls.node, out)
	w.WriteByte(']')
	out.completed = append(out.completed, completion{pending: &ls.pendingResult, items: w.Bytes(), errors: resp.Errors, extensions: resp.Extensions, at: at})
	if ls.next >= ls.end {
		ls.done = true
		d.open--
		out.completed = append(out.completed, completion{pending: &ls.pendingResult, data: json.RawMessage("{}"), at: at})
	}
}

// endStreams completes, once the executor has nothing more to send, the
// streams still open: they can get no more elements.
func (d *deferrals) endStreams(out *part) {
	for _, ls := range d.streams {
		if ls.done {
			continue
		}
		ls.done = true
		d.open--
		e := &gqlerror.Error{Message: fmt.Sprintf("the stream ended after %d of its %d elements", ls.next, ls.end), Path: ls.path, Extensions: map[string]any{"code": CodeCancelled}}
		out.completed = append(out.completed, completion{pending: &ls.pendingResult, errors: gqlerror.List{e}, at: ls.next})
	}
}
