package graph

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"

	"github.com/salesgraph/salesgraph/graph/model"
)

// TestFastScalarsAreWrittenAsGqlgenWritesThem: the fast path's writers
// against gqlgen's marshalers, on the strings JSON escaping can get wrong.
func TestFastScalarsAreWrittenAsGqlgenWritesThem(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tcr\rlf\n", "\x00\x01\x1f\x7f", "zażółć 🙂", "invalid \xff\xfe utf-8", "\u2028 separators \u2029"} {
		var want, id bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		graphql.MarshalID(s).MarshalGQL(&id) // ID fields are written with str too
		w := &fastWriter{}
		w.str(s)
		assert.Equal(t, want.String(), w.buf.String(), "%q", s)
		assert.Equal(t, id.String(), w.buf.String(), "%q as an ID", s)
	}
	// Every byte that needs an escape, at every offset of strings around
	// the eight-byte steps of plainPrefix, among plain and non-ASCII bytes.
	for n := 0; n <= 19; n++ {
		for at := 0; at < n; at++ {
			for _, c := range []byte{0, 0x1f, '"', '\\', '\n', 0x20, 0x7f, 0x80, 0xff} {
				b := []byte(strings.Repeat("aż", 10))[:n]
				b[at] = c
				var want bytes.Buffer
				graphql.MarshalString(string(b)).MarshalGQL(&want)
				w := &fastWriter{}
				w.str(string(b))
				assert.Equal(t, want.String(), w.buf.String(), "%q", b)
			}
		}
	}
	for _, n := range []int64{0, -1, 42, 1<<53 + 1, -1 << 63} {
		var want bytes.Buffer
		graphql.MarshalInt64(n).MarshalGQL(&want)
		w := &fastWriter{}
		w.int(n)
		assert.Equal(t, want.String(), w.buf.String())
	}
	for _, e := range []string{"FINISHED", "in_progress", "", "Zażółć", "a\"b", "tab\t"} {
		w := &fastWriter{}
		w.enum(e)
		assert.Equal(t, strconv.Quote(e), w.buf.String())
	}
	for _, b := range []bool{true, false} {
		var want bytes.Buffer
		graphql.MarshalBoolean(b).MarshalGQL(&want)
		w := &fastWriter{}
		w.bool(b)
		assert.Equal(t, want.String(), w.buf.String())
	}
}

// TestFastEnumsAreWrittenAsTheirMarshalGQL: graph/internal/gen writes a
// value of an enum gqlgen's model generator wrote with the fast writer,
// not its MarshalGQL; every value of each, and one the upstream might
// send unmapped, is written the same.
func TestFastEnumsAreWrittenAsTheirMarshalGQL(t *testing.T) {
	var values []interface {
		graphql.Marshaler
		String() string
	}
	for _, v := range model.AllMeetingStatus {
		values = append(values, v)
	}
	for _, v := range model.AllMeetingType {
		values = append(values, v)
	}
	for _, v := range model.AllMeetingOrderField {
		values = append(values, v)
	}
	for _, v := range model.AllOrderDirection {
		values = append(values, v)
	}
	values = append(values, model.MeetingStatus("not \"mapped\"\n"))
	for _, v := range values {
		var want bytes.Buffer
		v.MarshalGQL(&want)
		w := &fastWriter{}
		w.enum(v.String())
		assert.Equal(t, want.String(), w.buf.String(), "%T %q", v, v.String())
	}
}
