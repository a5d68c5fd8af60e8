package gqlhttp

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// What an incremental response delivers, and when: the deferred fragments
// of an operation, whatever the wire format (incremental_wire.go).
//
// gqlgen's executor marshals a deferred field as null in the payload that
// holds its object, and sends its value later in a payload of its own, one
// per object and label. A client reads that null as the field's value:
// Apollo Client reported complete data with the deferred field null. So
// every deferred field is cut out of the payload that holds its object and
// held until its fragment's part, where it is the only place it appears.
//
// Which fields are deferred comes from the operation (a plan, collected as
// the executor collects fields); which of them the executor actually defers
// does not: gqlgen resolves a field without a resolver with its object
// whatever @defer says, and sends nothing later for it. Such a value, cut
// from its payload, is final unless it is null (a placeholder is always
// null); a null one is final once the executor has sent the fragment's
// payload, or has nothing more to send. A fragment is delivered as soon as
// every field of it is final, so a fragment the executor did not defer at
// all follows the payload that held it at once.

// maxDeferWalk bounds the fields a plan visits: fragments spread many
// times can make an operation's collected fields far more numerous than
// its text. Past it the plan is incomplete, and payloads it did not
// foresee are placed as they come (placeable).
const maxDeferWalk = 20000

// planNode is one level of the operation's selections, for the objects
// found there: the response keys whose fields are deferred, and those with
// deferred fields below them.
type planNode struct {
	fields map[string]*planField
	order  []string // the deferred keys, in the order they are collected
}

type planField struct {
	deferred bool
	labels   []string   // of the deferred fragments that hold it: the executor's grouping
	child    *planNode  // nil when no field below is deferred or streamed
	stream   *streamUse // @stream on a list field (incremental_stream.go)
}

// deferPlan is an operation's plan.
type deferPlan struct {
	root      *planNode
	truncated bool // the walk's budget ran out
}

// newDeferPlan collects the operation's fields as the executor will: an
// object type's fields with its own type conditions, an abstract type's
// with every type condition admitted (a field deferred under one type and
// not under another is the executor's business; a payload the plan missed
// is placed as it comes).
func newDeferPlan(rc *graphql.OperationContext, schema *ast.Schema) *deferPlan {
	var root *ast.Definition
	switch rc.Operation.Operation {
	case ast.Mutation:
		root = schema.Mutation
	case ast.Subscription:
		root = schema.Subscription
	default:
		root = schema.Query
	}
	p := &deferPlan{}
	budget := maxDeferWalk
	var sat []string
	if root != nil {
		sat = satisfying(schema, root.Name)
	}
	p.root = p.node(rc, schema, rc.Operation.SelectionSet, sat, &budget)
	return p
}

func (p *deferPlan) node(rc *graphql.OperationContext, schema *ast.Schema, sel ast.SelectionSet, sat []string, budget *int) *planNode {
	var n *planNode
	for _, f := range graphql.CollectFields(rc, sel, sat) {
		if *budget--; *budget <= 0 {
			p.truncated = true
			break
		}
		var child *planNode
		if len(f.Selections) > 0 {
			var childSat []string
			if f.Definition != nil {
				childSat = satisfying(schema, f.Definition.Type.Name())
			}
			child = p.node(rc, schema, f.Selections, childSat, budget)
		}
		deferred := f.IsDeferred()
		var stream *streamUse
		if f.Definition != nil && f.Definition.Type.Elem != nil {
			if u, on := streamArgs(f.Directives, rc.Variables); on {
				u.nonNull = f.Definition.Type.Elem.NonNull
				stream = &u
			}
		}
		if !deferred && child == nil && stream == nil {
			continue
		}
		if n == nil {
			n = &planNode{fields: map[string]*planField{}}
		}
		pf := &planField{deferred: deferred, child: child, stream: stream}
		if deferred {
			for _, d := range f.Deferrables {
				if !slices.Contains(pf.labels, d.Label) {
					pf.labels = append(pf.labels, d.Label)
				}
			}
			n.order = append(n.order, f.Alias)
		}
		n.fields[f.Alias] = pf
	}
	return n
}

// satisfying is what the executor collects an object of type name with:
// the type and the interfaces and unions it belongs to; nil (every type
// condition) for an abstract type.
func satisfying(schema *ast.Schema, name string) []string {
	def := schema.Types[name]
	if def == nil || def.Kind != ast.Object {
		return nil
	}
	out := []string{name}
	for _, d := range schema.GetImplements(def) {
		out = append(out, d.Name)
	}
	return out
}

// heldObject is an object of the response with deferred fields: the
// values cut from it, until each is sent.
type heldObject struct {
	path      ast.Path
	node      *planNode // nil for an object the plan did not foresee
	order     []string  // its deferred keys: the plan's, then any the executor added
	fields    map[string]*heldField
	fragments []*fragment
}

type heldField struct {
	labels []string        // of its fragments; shared with the plan until extended
	value  json.RawMessage // nil until known
	final  bool            // value is what the field resolved to
	sent   bool
}

func (o *heldObject) field(key string) *heldField {
	f := o.fields[key]
	if f == nil {
		f = &heldField{}
		o.fields[key] = f
		o.order = append(o.order, key)
	}
	return f
}

// fragment is a deferred fragment at one object, as the executor groups
// them (by label): announced to the client when its object is delivered,
// then completed with its fields' values, or failed.
type fragment struct {
	pendingResult
	obj     *heldObject
	arrived bool // the executor's payload for it was read
	failed  bool // ... and its data was null
	errors  gqlerror.List
	ext     map[string]any
	done    bool
}

// ready reports whether fr can be completed now.
func (fr *fragment) ready() bool {
	if fr.arrived {
		return true
	}
	for _, k := range fr.obj.order {
		if f := fr.obj.fields[k]; !f.sent && !f.final && slices.Contains(f.labels, fr.label) {
			return false
		}
	}
	return true
}

// deferrals tracks an incremental response's deferred fragments.
type deferrals struct {
	plan      *deferPlan
	objects   map[string]*heldObject         // by objectKey of their path
	fragments map[string]*fragment           // the latest announced per objectKey and label
	all       []*fragment                    // every one announced, in that order
	open      int                            // announced and not completed
	check     []*fragment                    // whose readiness may have changed
	waiting   map[string][]*graphql.Response // payloads by the objectKey of an object not delivered yet
	finished  bool                           // the executor has nothing more to send

	// @stream (incremental_stream.go)
	reg          *streamRegistry                // the lengths the executor records; nil: nothing streams
	lists        map[string]*listStream         // announced, by objectKey of the list's path
	streams      []*listStream                  // ... in that order
	waitingItems map[string][]*graphql.Response // elements by the objectKey of a list not delivered yet
	drain        []string                       // lists announced with elements waiting
}

func newDeferrals(plan *deferPlan, reg *streamRegistry) *deferrals {
	return &deferrals{plan: plan, objects: map[string]*heldObject{}, fragments: map[string]*fragment{}, waiting: map[string][]*graphql.Response{},
		reg: reg, lists: map[string]*listStream{}, waitingItems: map[string][]*graphql.Response{}}
}

// objectKey is a path as a map key.
func objectKey(p ast.Path) string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case ast.PathName:
			b.WriteString(string(e))
		case ast.PathIndex:
			b.WriteString(strconv.Itoa(int(e)))
		}
		b.WriteByte(0)
	}
	return b.String()
}

// part is what a payload of the response carries: results announced
// (pending) and results completed.
type part struct {
	announced []*pendingResult
	completed []completion
}

func (p *part) empty() bool { return len(p.announced) == 0 && len(p.completed) == 0 }

// initial cuts the deferred fields out of the initial payload's data and
// announces the fragments found.
func (d *deferrals) initial(data json.RawMessage, out *part) json.RawMessage {
	if d.plan.root == nil || len(data) == 0 {
		return data
	}
	var w bytes.Buffer
	w.Grow(len(data))
	d.cut(&w, data, make(ast.Path, 0, 16), d.plan.root, out)
	return w.Bytes()
}

// receive takes a payload of the executor's. One whose object has not been
// delivered yet waits for it; one whose object never is (it was null) is
// dropped when the executor finishes.
func (d *deferrals) receive(resp *graphql.Response, out *part) {
	if d.isItem(resp) {
		d.item(resp, out)
		return
	}
	key := objectKey(resp.Path)
	obj := d.objects[key]
	if obj == nil {
		if !d.plan.truncated || !d.placeable(resp.Path) {
			d.waiting[key] = append(d.waiting[key], resp)
			return
		}
		obj = d.hold(slices.Clone(resp.Path), nil, nil, out)
	}
	fr := d.fragments[key+"\x00"+resp.Label]
	if fr != nil && fr.done {
		// Its fields came with another label's payload (a field under
		// two labels is in both): anything new in it, which the plan did
		// not foresee, goes in a fragment of its own.
		news := len(resp.Errors) > 0 || len(resp.Data) == 0 || string(resp.Data) == "null"
		eachMember(resp.Data, func(_ []byte, k string, _ []byte) {
			if f := obj.fields[k]; f == nil || !f.sent {
				news = true
			}
		})
		if !news {
			return
		}
		fr = nil
	}
	if fr == nil {
		fr = d.announce(obj, key, resp.Label, out)
	}
	fr.arrived, fr.errors, fr.ext = true, resp.Errors, resp.Extensions
	// Its fields are final now, which may make other fragments of the
	// object ready too.
	d.check = append(d.check, obj.fragments...)
	if len(resp.Data) == 0 || string(resp.Data) == "null" {
		fr.failed = true
		return
	}
	eachMember(resp.Data, func(_ []byte, k string, v []byte) {
		f := obj.field(k)
		if !slices.Contains(f.labels, resp.Label) {
			f.labels = append(slices.Clip(f.labels), resp.Label)
		}
		f.value, f.final = v, true
	})
}

// finish records that the executor has nothing more to send: every value
// held is final. The payloads waiting are placed by settle if their
// objects are delivered then; past it, they are below an object that was
// null, and nothing of them can be placed.
func (d *deferrals) finish() {
	d.finished = true
	for _, o := range d.objects {
		for _, f := range o.fields {
			f.final = true
		}
	}
	d.check = append(d.check, d.all...)
}

// settle completes every fragment that is ready, and places the payloads
// that their data makes placeable, until nothing changes.
func (d *deferrals) settle(out *part) {
	for len(d.check) > 0 || len(d.drain) > 0 {
		for i := 0; i < len(d.check); i++ { // complete may add to it
			if fr := d.check[i]; !fr.done && fr.ready() {
				d.complete(fr, out)
			}
		}
		d.check = d.check[:0]
		d.drainItems(out) // may make fragments ready: their objects came
		if d.plan.truncated {
			// Payloads the plan did not foresee may have become placeable.
			waiting := d.waiting
			d.waiting = map[string][]*graphql.Response{}
			for _, k := range slices.Sorted(maps.Keys(waiting)) {
				for _, resp := range waiting[k] {
					d.receive(resp, out)
				}
			}
		}
	}
	if d.finished {
		clear(d.waiting)
		clear(d.waitingItems)
		d.endStreams(out)
	}
}

// more reports whether the response has more to send after what settle
// gave.
func (d *deferrals) more() bool { return !d.finished || d.open > 0 }

// complete adds fr's completion to out: its fields not sent yet, each with
// the deferred fields below it cut out in turn.
func (d *deferrals) complete(fr *fragment, out *part) {
	fr.done = true
	d.open--
	c := completion{pending: &fr.pendingResult, errors: fr.errors, extensions: fr.ext}
	if fr.failed {
		out.completed = append(out.completed, c)
		return
	}
	obj := fr.obj
	var w bytes.Buffer
	w.WriteByte('{')
	path := append(make(ast.Path, 0, len(obj.path)+8), obj.path...)
	for _, k := range obj.order {
		f := obj.fields[k]
		if f.sent || !slices.Contains(f.labels, fr.label) {
			continue
		}
		f.sent = true
		if c.fields > 0 {
			w.WriteByte(',')
		}
		c.fields++
		writeKey(&w, k)
		value := f.value
		if value == nil {
			value = json.RawMessage("null")
		}
		d.writeValue(&w, value, append(path, ast.PathName(k)), obj.node.field(k), out)
		f.value = nil
	}
	w.WriteByte('}')
	c.data = w.Bytes()
	out.completed = append(out.completed, c)
}

func (n *planNode) field(k string) *planField {
	if n == nil {
		return nil
	}
	return n.fields[k]
}

// writeKey writes a response key and its colon: a GraphQL name needs no
// escaping; anything else is quoted as JSON.
func writeKey(w *bytes.Buffer, k string) {
	plain := k != ""
	for i := 0; i < len(k) && plain; i++ {
		c := k[i]
		plain = c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if plain {
		w.WriteByte('"')
		w.WriteString(k)
		w.WriteByte('"')
	} else {
		b, _ := json.Marshal(k)
		w.Write(b)
	}
	w.WriteByte(':')
}

// announce makes the fragment with label at obj pending.
func (d *deferrals) announce(obj *heldObject, key, label string, out *part) *fragment {
	fr := &fragment{pendingResult: pendingResult{path: obj.path, label: label}, obj: obj}
	d.fragments[key+"\x00"+label] = fr
	d.all = append(d.all, fr)
	d.open++
	d.check = append(d.check, fr)
	obj.fragments = append(obj.fragments, fr)
	out.announced = append(out.announced, &fr.pendingResult)
	return fr
}

// hold records the deferred fields cut from the object at path, announces
// their fragments, and takes the payloads that were waiting for it.
func (d *deferrals) hold(path ast.Path, node *planNode, cut []cutField, out *part) *heldObject {
	key := objectKey(path)
	obj := d.objects[key]
	if obj == nil {
		obj = &heldObject{path: path, node: node, fields: map[string]*heldField{}}
		d.objects[key] = obj
	}
	for _, c := range cut {
		f := obj.field(c.key)
		if f.final || f.sent {
			continue // the same object, reached again through another fragment
		}
		if f.labels == nil {
			f.labels = node.field(c.key).labels
		}
		f.value = bytes.Clone(c.value)
		f.final = d.finished || string(c.value) != "null"
	}
	for _, k := range obj.order {
		for _, l := range obj.fields[k].labels {
			if d.fragments[key+"\x00"+l] == nil {
				d.announce(obj, key, l, out)
			}
		}
	}
	if w, ok := d.waiting[key]; ok {
		delete(d.waiting, key)
		for _, resp := range w {
			d.receive(resp, out)
		}
	}
	return obj
}

type cutField struct {
	key   string
	value []byte
}

// writeValue writes v, the value of field f at path (f is nil for a field
// the plan does not name): cut where the plan defers fragments below it,
// and announcing the stream it holds, if any.
func (d *deferrals) writeValue(w *bytes.Buffer, v []byte, path ast.Path, f *planField, out *part) {
	if f != nil && f.child != nil {
		d.cut(w, v, path, f.child, out)
	} else {
		w.Write(v)
	}
	if f != nil && f.stream != nil {
		d.announceStream(path, f, bytes.TrimSpace(v), out)
	}
}

// cut writes the JSON value v, at path and selected as node, to w without
// its deferred fields, which are held. Malformed JSON is written as it
// is, for the encoder to refuse.
func (d *deferrals) cut(w *bytes.Buffer, v []byte, path ast.Path, node *planNode, out *part) {
	v = bytes.TrimSpace(v)
	if node == nil || len(v) == 0 {
		w.Write(v)
		return
	}
	start := w.Len()
	switch v[0] {
	case '{':
		var held []cutField
		n := 0
		w.WriteByte('{')
		ok := eachMember(v, func(rawKey []byte, k string, val []byte) {
			f := node.fields[k]
			if f != nil && f.deferred {
				held = append(held, cutField{k, val})
				return
			}
			if n > 0 {
				w.WriteByte(',')
			}
			n++
			w.Write(rawKey)
			w.WriteByte(':')
			d.writeValue(w, val, append(path, ast.PathName(k)), f, out)
		})
		if !ok {
			w.Truncate(start)
			w.Write(v)
			return
		}
		w.WriteByte('}')
		if len(node.order) > 0 {
			d.hold(slices.Clone(path), node, held, out)
		}
	case '[':
		i := 0
		w.WriteByte('[')
		ok := eachElement(v, func(val []byte) {
			if i > 0 {
				w.WriteByte(',')
			}
			d.cut(w, val, append(path, ast.PathIndex(i)), node, out)
			i++
		})
		if !ok {
			w.Truncate(start)
			w.Write(v)
			return
		}
		w.WriteByte(']')
	default:
		w.Write(v)
	}
}

// placeable reports, for a plan cut short, whether every deferred field
// the plan knows above path was delivered.
func (d *deferrals) placeable(path ast.Path) bool {
	n := d.plan.root
	for i, e := range path {
		name, ok := e.(ast.PathName)
		if !ok {
			continue
		}
		f := n.field(string(name))
		if f == nil {
			return true
		}
		if f.deferred {
			obj := d.objects[objectKey(path[:i])]
			if obj == nil || obj.fields[string(name)] == nil || !obj.fields[string(name)].sent {
				return false
			}
		}
		if n = f.child; n == nil {
			return true
		}
	}
	return true
}

// eachMember calls fn with each member of the JSON object obj: its key as
// written, its key decoded, and its value. It reports whether obj is a
// well-formed object (fn may have been called before it finds it is not).
func eachMember(obj []byte, fn func(rawKey []byte, key string, value []byte)) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	if i = skipSpace(obj, i+1); i < len(obj) && obj[i] == '}' {
		return true
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return false
		}
		ke := jsonEnd(obj, i)
		if ke < 0 {
			return false
		}
		rawKey := obj[i:ke]
		key := string(rawKey[1 : len(rawKey)-1])
		if bytes.IndexByte(rawKey, '\\') >= 0 && json.Unmarshal(rawKey, &key) != nil {
			return false
		}
		if i = skipSpace(obj, ke); i >= len(obj) || obj[i] != ':' {
			return false
		}
		vs := skipSpace(obj, i+1)
		ve := jsonEnd(obj, vs)
		if ve < 0 {
			return false
		}
		fn(rawKey, key, obj[vs:ve])
		if i = skipSpace(obj, ve); i >= len(obj) {
			return false
		}
		switch obj[i] {
		case '}':
			return true
		case ',':
			i = skipSpace(obj, i+1)
		default:
			return false
		}
	}
}

// eachElement calls fn with each element of the JSON array arr, and
// reports whether arr is a well-formed array.
func eachElement(arr []byte, fn func(value []byte)) bool {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return false
	}
	if i = skipSpace(arr, i+1); i < len(arr) && arr[i] == ']' {
		return true
	}
	for {
		ve := jsonEnd(arr, i)
		if ve < 0 {
			return false
		}
		fn(arr[i:ve])
		if i = skipSpace(arr, ve); i >= len(arr) {
			return false
		}
		switch arr[i] {
		case ']':
			return true
		case ',':
			i = skipSpace(arr, i+1)
		default:
			return false
		}
	}
}

// jsonEnd returns the end of the JSON value at b[i], or -1 when b ends
// before it does. Only the nesting is checked: a value's contents are the
// encoder's to validate.
func jsonEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for i++; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				e := jsonEnd(b, i)
				if e < 0 {
					return -1
				}
				i = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
