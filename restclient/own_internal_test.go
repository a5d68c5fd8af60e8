package restclient

import (
	"fmt"
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

// TestTextIsCopiedIntoSharedChunks: the records of a body a call read copy
// their text out of it, into a few chunks they share, so that the body is
// garbage once decoded rather than kept, whole, for as long as the records
// (a meetings page's text is about a quarter of it).
func TestTextIsCopiedIntoSharedChunks(t *testing.T) {
	var b []byte
	b = append(b, `{"status":200,"data":{"list":[`...)
	for i := range 40 {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"id":%d,"hash":"c4ca4238a0b923820dcc509a6f75849b","id_user":7,"id_person":"3781%d","id_comapny":"8905","id_thread":"","status":"saved","start_date":"2024-09-06 15:30:00","end_date":"2024-09-06 17:32:00","address":"ul. Słowackiego 142/%d, 20-002 Lublin","visits":29,"visits_owner":1,"visits_copy":0,"type":"standard","created_at":"2024-09-01 10:00:00","modified_at":"2024-09-02 10:00:00"}`, 100000+i, i, i)
	}
	body := append(b, `]}}`...)
	within := func(s string, buf []byte) bool {
		p, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&buf[0]))
		return p >= start && p < start+uintptr(len(buf))
	}
	var out []Meeting
	decode := func() {
		require.NoError(t, decodeSuccess(body, func(s *scanner) error {
			p, _, err := decodePage(s, time.UTC, Meetings, 1)
			if p != nil {
				out = p.List
			}
			return err
		}))
	}
	decode()
	require.Len(t, out, 40)
	chunks := map[uintptr]bool{}
	for i, m := range out {
		assert.Equal(t, fmt.Sprintf("ul. Słowackiego 142/%d, 20-002 Lublin", i), m.Address)
		for _, s := range []string{m.Hash, m.PersonID, m.CompanyID, m.Status, m.Address, m.Type} {
			require.False(t, within(s, body), "record %d keeps the body", i)
			chunks[uintptr(unsafe.Pointer(unsafe.StringData(s)))&^(minArenaChunk-1)] = true
		}
	}
	// The text is about 4.5 KB; chunks are a quarter of the 16 KB body.
	assert.LessOrEqual(t, len(chunks), 16, "shared chunks, not an allocation per string")
	allocs := testing.AllocsPerRun(20, decode)
	assert.LessOrEqual(t, allocs, 5.0, "the list, a few chunks of text")
}
