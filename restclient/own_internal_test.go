package restclient

import (
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOwnedBodyIsNotCopied: text decoded from a body the call owns is
// part of the body itself; from any other buffer (the fuzzers', a
// caller's), part of one copy of it, so that the buffer may be reused.
func TestOwnedBodyIsNotCopied(t *testing.T) {
	body := []byte(`{"status":200,"data":{"list":[{"id":1,"hash":"c4ca4238","address":"ul. Długa 7, Gdańsk","status":"finished"}]}}`)
	within := func(s string) bool {
		p, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&body[0]))
		return p >= start && p < start+uintptr(len(body))
	}
	decode := func(into func(func(*scanner) error) func(*scanner) error) []Meeting {
		var out []Meeting
		require.NoError(t, decodeSuccess(body, into(func(s *scanner) error {
			p, _, err := decodePage(s, time.UTC, Meetings, 1)
			if p != nil {
				out = p.List
			}
			return err
		})))
		require.Len(t, out, 1)
		return out
	}

	m := decode(owned)[0]
	assert.Equal(t, "ul. Długa 7, Gdańsk", m.Address)
	assert.True(t, within(m.Address), "aliases the body")
	assert.True(t, within(m.Hash))

	m = decode(func(f func(*scanner) error) func(*scanner) error { return f })[0]
	assert.Equal(t, "ul. Długa 7, Gdańsk", m.Address)
	assert.False(t, within(m.Address), "a copy")
}
