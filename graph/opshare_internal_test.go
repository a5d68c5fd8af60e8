package graph

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestReadBody proves that a body read at its declared length is the body
// whatever that length says, as io.ReadAll up to one byte past the limit
// would read it, and that a body shorter than declared is an error.
func TestReadBody(t *testing.T) {
	const max = 10
	for _, tc := range []struct {
		name, body string
		length     int64
		want       string
		err        bool
	}{
		{name: "declared", body: `{"a":1}`, length: 7, want: `{"a":1}`},
		{name: "unknown length", body: `{"a":1}`, length: -1, want: `{"a":1}`},
		{name: "empty", body: "", length: 0, want: ""},
		{name: "at the limit", body: "0123456789", length: 10, want: "0123456789"},
		{name: "longer than declared", body: "0123456789", length: 3, want: "0123456789"},
		{name: "longer than declared, past the limit", body: "0123456789abc", length: 3, want: "0123456789a"},
		{name: "unknown length, past the limit", body: "0123456789abc", length: -1, want: "0123456789a"},
		{name: "shorter than declared", body: "01", length: 5, want: "01", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(tc.body), tc.length, max)
			assert.Equal(t, tc.want, string(got))
			if tc.err {
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
