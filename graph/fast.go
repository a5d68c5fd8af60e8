package graph

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/salesgraph/salesgraph/gqlhttp"
)

// The fast path (fast_gen.go, written by graph/internal/gen) writes an
// object whose selected fields are all plain straight to JSON. gqlgen's
// executor resolves each field through a field context, the field
// middleware, a boxed result and a marshaler that lives until the whole
// response is written: about thirty allocations per field of a meeting.
// Here an object costs its bytes and one marshaler, and what it is made of
// is garbage at once instead of living until the response is written.
//
// What it skips and why that is safe: the field middleware, which for plain
// fields is only gqlhttp's response meter (charged here, per object) and
// resolver spans (resolvers only, never plain fields):
// TestTheFastPathKnowsEveryFieldInterceptor fails when the endpoint gains or
// loses a field interceptor. Everything that can differ (an error, a null in
// a non-null field, a sub-selection, @defer, a panic) sends the object back
// to the executor before anything is reported.

// fastWriter builds one object's JSON.
type fastWriter struct {
	buf bytes.Buffer
	// long are the strings left out of buf, to be written where they go
	// only when the response is marshalled (see longString).
	long []longString
	// longBytes is what they add, quoted.
	longBytes int
}

// A long string (an upstream text of many kilobytes) is not copied into
// the object's JSON ahead of the response: gqlgen then copies that JSON
// again into the response's buffer, so the response would be held twice
// while it is marshalled. It is written straight into the response's
// buffer instead, as gqlgen's own marshaler for a string would; until
// then it is the upstream record's text, which lives that long anyway.
const longStringBytes = 4 << 10

// longString is a string to be written at byte at of the object's JSON.
type longString struct {
	at int
	s  string
}

// fastPath is off only in the test that compares both paths.
var fastPath = true

var fastWriters = sync.Pool{New: func() any { return new(fastWriter) }}

// beginFast returns a writer for an object with these fields, or nil when a
// field needs the executor anyway.
func beginFast(fields []graphql.CollectedField) *fastWriter {
	if !fastPath {
		return nil
	}
	for i := range fields {
		if len(fields[i].Selections) > 0 || len(fields[i].Deferrables) > 0 {
			return nil
		}
	}
	w := fastWriters.Get().(*fastWriter)
	w.buf.Reset()
	w.buf.WriteByte('{')
	return w
}

// key writes "alias":. Aliases are GraphQL names, which JSON needs no
// escape for.
func (w *fastWriter) key(alias string) {
	if w.buf.Len() > 1 { // past the opening brace
		w.buf.WriteByte(',')
	}
	w.buf.WriteByte('"')
	w.buf.WriteString(alias)
	w.buf.WriteString(`":`)
}

// field writes "alias":value with the value's own marshaler.
func (w *fastWriter) field(alias string, m graphql.Marshaler) {
	w.key(alias)
	m.MarshalGQL(&w.buf)
}

// The scalar writers write what gqlgen's marshalers for String and ID,
// Int and Boolean, and generated enums write, without a marshaler each.

func (w *fastWriter) int(n int64) { w.buf.Write(strconv.AppendInt(w.buf.AvailableBuffer(), n, 10)) }

func (w *fastWriter) bool(b bool) { w.buf.Write(strconv.AppendBool(w.buf.AvailableBuffer(), b)) }

func (w *fastWriter) null() { w.buf.WriteString("null") }

// plainPrefix is how many leading bytes of s need no escape, found eight
// at a time: most strings need none.
func plainPrefix(s string) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		quote, backslash := x^(ones*'"'), x^(ones*'\\')
		below := (x - ones*0x20) &^ x & highs // a byte below 0x20
		isQuote := (quote - ones) &^ quote & highs
		isBackslash := (backslash - ones) &^ backslash & highs
		if below|isQuote|isBackslash != 0 {
			break
		}
	}
	return i
}

// enum writes as gqlgen's generated MarshalGQL does, strconv.Quote.
func (w *fastWriter) enum(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			w.buf.Write(strconv.AppendQuote(w.buf.AvailableBuffer(), s))
			return
		}
	}
	// A GraphQL name, which strconv.Quote leaves as it is.
	w.buf.WriteByte('"')
	w.buf.WriteString(s)
	w.buf.WriteByte('"')
}

// str writes s quoted, or notes where to, when it is long.
func (w *fastWriter) str(s string) {
	if len(s) >= longStringBytes {
		w.long = append(w.long, longString{at: w.buf.Len(), s: s})
		w.longBytes += len(s) + 2 // as the response meter counts a string
		return
	}
	quote(&w.buf, s)
}

// quote quotes as graphql.MarshalString: only control characters, the
// backslash and the quote are escaped; everything else, invalid UTF-8
// included, is written as it is.
func quote(b *bytes.Buffer, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	start := 0
	i := plainPrefix(s)
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// finish returns the object, charged to the operation's response meter.
func (w *fastWriter) finish(ctx context.Context) graphql.Marshaler {
	w.buf.WriteByte('}')
	if !gqlhttp.ChargeResponse(ctx, w.buf.Len()+w.longBytes) {
		return emptyObject // the operation answers with the refusal
	}
	if len(w.long) == 0 {
		if m, ok := listAdd(ctx, w.buf.Bytes()); ok {
			return m // written into its list's buffer (lists.go)
		}
		return rawJSON(bytes.Clone(w.buf.Bytes()))
	}
	return &withLong{json: bytes.Clone(w.buf.Bytes()), long: slices.Clone(w.long)}
}

func (w *fastWriter) release() {
	clear(w.long) // the pool must not keep their texts
	w.long, w.longBytes = w.long[:0], 0
	if w.buf.Cap() <= 64<<10 { // keep the pool's buffers small
		fastWriters.Put(w)
	}
}

// rawJSON is JSON written ahead of the response.
type rawJSON []byte

func (r rawJSON) MarshalGQL(w io.Writer) { _, _ = w.Write(r) }

// withLong is JSON written ahead of the response but for its long strings,
// which are quoted into the response where they go.
type withLong struct {
	json []byte
	long []longString
}

func (o *withLong) MarshalGQL(w io.Writer) {
	b, ok := w.(*bytes.Buffer) // gqlgen marshals into one
	if !ok {
		b = new(bytes.Buffer)
		defer func() { _, _ = w.Write(b.Bytes()) }()
	}
	from := 0
	for _, l := range o.long {
		b.Write(o.json[from:l.at])
		quote(b, l.s)
		from = l.at
	}
	b.Write(o.json[from:])
}

var emptyObject graphql.Marshaler = rawJSON("{}")

// fastList is where the fast path writes the objects of a list that
// marshalList marshals in order (lists.go), from fastWriter.finish: one buffer per list,
// the elements separated by commas, instead of a copy and a marshaler per
// element, held until the response is written (on Q1, 2,000 of each per
// request).
type fastList struct {
	fc    *graphql.FieldContext // the element being marshalled
	cur   int                   // its index
	n     int                   // how many elements the list has
	buf   []byte
	count int   // elements written to buf
	spans []int // element i is buf[spans[2i]:spans[2i+1]], when written there
}

type fastListKey struct{}

// listed is the marshaler of an element written to its list's buffer.
type listed struct{}

func (listed) MarshalGQL(io.Writer) { panic("graph: a listed element is marshalled with its list") }

// add writes object, the JSON of the element being marshalled, to the
// list's buffer; ok is false when ctx is not that element's (an object
// nested in it, or no list being marshalled in order).
func listAdd(ctx context.Context, object []byte) (m graphql.Marshaler, ok bool) {
	fl, _ := ctx.Value(fastListKey{}).(*fastList)
	if fl == nil || fl.fc != graphql.GetFieldContext(ctx) {
		return nil, false
	}
	if fl.buf == nil {
		// Sized from the first element: the others are usually alike.
		fl.buf = make([]byte, 0, (len(object)+1)*fl.n+fl.n/8*len(object))
		fl.spans = make([]int, 2*fl.n)
	}
	if fl.count > 0 {
		fl.buf = append(fl.buf, ',')
	}
	fl.spans[2*fl.cur] = len(fl.buf)
	fl.buf = append(fl.buf, object...)
	fl.spans[2*fl.cur+1] = len(fl.buf)
	fl.count++
	return listed{}, true
}

// array is the list's marshaler: its buffer, as one element, when every
// element is there (the array's brackets around the elements and their
// commas); else each element written there gets its part of it.
func (fl *fastList) array(ret graphql.Array) graphql.Array {
	switch fl.count {
	case 0:
		return ret
	case len(ret):
		return graphql.Array{rawJSON(fl.buf)}
	}
	for i, m := range ret {
		if _, ok := m.(listed); ok {
			ret[i] = rawJSON(fl.buf[fl.spans[2*i]:fl.spans[2*i+1]])
		}
	}
	return ret
}
