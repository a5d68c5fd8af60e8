package graph

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"math"
	"sync"
)

// Cursors are opaque to clients and authenticated: a cursor is a position
// followed by an HMAC-SHA256 tag over it, so the facade acts only on
// positions it issued itself. The cursor of a paged list drives upstream
// calls (the page size and position it carries choose the pages fetched),
// so a forged one could make a request fetch any page of any list; the
// cursor of a list answered whole is only an offset, but is treated the
// same so that all refuse alike.
//
// What is authenticated: a version-and-kind byte, the kind of the list
// that issued it (a meetings cursor is no threads cursor: the codec takes
// the kind from the list it is given, never from a caller), the user whose
// list the position is in (a cursor of one user's list cannot page
// another's), and the position. The tag is the
// first 16 bytes of the HMAC, half its output, as RFC 2104 recommends for
// truncation; a cursor stays under 40 characters.
//
// The key is random per process unless Options.CursorSecret sets one, which
// replicas behind one load balancer must share for a cursor issued by one
// to be accepted by another.

// cursorKind is the first byte of a cursor: its format version and the
// list that issued it, as the list's declaration says (upstream.go).
type cursorKind byte

const (
	cursorTagSize = 16
	// maxCursorText is longer than any cursor issued (about 40 characters),
	// so that longer input is refused before it is decoded.
	maxCursorText = 96
	// MinCursorSecret is the shortest Options.CursorSecret accepted: the
	// length of the HMAC's output, as RFC 2104 recommends for a key.
	MinCursorSecret = sha256.Size
)

// processCursorKey is the key used when none is configured: random, and
// the same for every handler of the process, so that tests and handlers in
// one process agree.
var processCursorKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("graph: no randomness for the cursor key: " + err.Error())
	}
	return k
})

// cursorCodec issues and checks cursors with one key.
type cursorCodec struct {
	macs sync.Pool // of hash.Hash, keyed: hmac.New costs two SHA-256 blocks
	// maxPages is the furthest upstream page of a paged list a cursor may
	// lead to (Options.MaxThreadPages): a list longer than that is not
	// followed.
	maxPages int
}

func newCursorCodec(secret []byte, maxPages int) *cursorCodec {
	key := secret
	if len(key) == 0 {
		key = processCursorKey()
	}
	key = append([]byte(nil), key...)
	c := &cursorCodec{maxPages: maxPages}
	c.macs.New = func() any { return hmac.New(sha256.New, key) }
	return c
}

// cursorPos is what a cursor says: a position in one user's list and, for
// a paged list, the upstream page size and list total it was computed
// with.
type cursorPos struct {
	user    int64
	index   int
	perPage int // paged lists only
	total   int // paged lists only
}

func (c *cursorCodec) tag(payload []byte) []byte {
	m := c.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(payload)
	sum := m.Sum(make([]byte, 0, sha256.Size))
	c.macs.Put(m)
	return sum[:cursorTagSize]
}

// cursor is the cursor of position p of list d.
func (c *cursorCodec) cursor(d *listInfo, p cursorPos) string {
	b := make([]byte, 0, 1+4*binary.MaxVarintLen32+binary.MaxVarintLen64+cursorTagSize)
	b = append(b, byte(d.kind))
	b = binary.AppendUvarint(b, uint64(p.user))
	b = binary.AppendUvarint(b, uint64(p.index))
	if d.paged {
		b = binary.AppendUvarint(b, uint64(p.perPage))
		b = binary.AppendUvarint(b, uint64(p.total))
	}
	b = append(b, c.tag(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// notACursor is the refusal of argument arg's value.
func notACursor(arg string) error { return badInput("%s is not a cursor this field issued", arg) }

// decode checks s, the value of argument arg (after or before), and returns
// the position it names, which is in list d and, when user is not 0, in
// that user's. Every refusal is BAD_USER_INPUT naming the argument.
func (c *cursorCodec) decode(s, arg string, d *listInfo, user int64) (cursorPos, error) {
	if len(s) > maxCursorText {
		return cursorPos{}, notACursor(arg)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) < 1+cursorTagSize {
		return cursorPos{}, notACursor(arg)
	}
	payload, tag := raw[:len(raw)-cursorTagSize], raw[len(raw)-cursorTagSize:]
	if !hmac.Equal(tag, c.tag(payload)) {
		return cursorPos{}, notACursor(arg)
	}
	// From here on the content is ours; the checks below guard against a
	// leaked key or a bug, and make a mix-up read as what it is.
	if kind := cursorKind(payload[0]); kind != d.kind {
		if other, ok := listOfKind(kind); ok {
			return cursorPos{}, badInput("%s is a cursor of %s, not of %s", arg, other.Name, d.Name)
		}
		return cursorPos{}, notACursor(arg)
	}
	var p cursorPos
	rest := payload[1:]
	next := func(limit uint64) (uint64, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > limit {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	u, ok1 := next(math.MaxInt64)
	i, ok2 := next(math.MaxInt32)
	p.user, p.index = int64(u), int(i)
	ok := ok1 && ok2 && p.user > 0
	if d.paged {
		pp, ok3 := next(math.MaxInt32)
		t, ok4 := next(math.MaxInt32)
		p.perPage, p.total = int(pp), int(t)
		// An issued cursor of a paged list names an item of the list it was
		// issued for, on a page within the pages the facade follows.
		ok = ok && ok3 && ok4 && p.perPage > 0 && p.index < p.total && p.index/p.perPage < c.maxPages
	}
	if !ok || len(rest) != 0 {
		return cursorPos{}, notACursor(arg)
	}
	if user != 0 && p.user != user {
		return cursorPos{}, badInput("%s is a cursor of another user's %s", arg, d.Name)
	}
	return p, nil
}
