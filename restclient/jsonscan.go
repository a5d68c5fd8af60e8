package restclient

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file is a small JSON reader over a byte slice. With encoding/json,
// keeping a bad record from sinking the rest takes a pass per nesting level
// (envelope, data, list of json.RawMessage, record): on a 500-meeting body
// that measured five to six times the time and three times the allocations
// of this single validating walk, before converting a single field. The
// reader is as strict as json.Valid and decodes strings exactly as
// encoding/json does (the fuzz targets check both); the tolerance lives in
// the field conversions of values.go.

// syntaxError says where and why a body stopped being JSON.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.off) + ": " + e.msg
}

// maxDepth matches encoding/json's nesting limit, so that both accept the
// same documents and a hostile body cannot exhaust the stack.
const maxDepth = 10000

// scanner walks one JSON document. Its methods consume input and validate it
// as they go; the value extents they return alias buf.
type scanner struct {
	buf   []byte
	off   int
	depth int
	doc   string // buf as a string, when its text may alias it (own)
	arena []byte // where text is copied otherwise: strings alias it, and it is never written under one
}

// sub returns b as a string. When b is part of a body the records may
// alias (own: a cached answer, which the cache keeps anyway), it is a
// substring of it. Otherwise its bytes are copied into the scanner's
// arena, chunks shared by the document's strings, instead of an
// allocation per field (a meetings body held two or three such strings per
// record): the records then keep their text, about a quarter of the body,
// and the body itself is garbage once decoded. Keeping the whole body for
// its text, as the records once did, kept every call's answer in memory
// until its operation's response was written, next to the records made of
// it (docs/contributors/performance.md).
func (s *scanner) sub(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s.doc != "" {
		off := cap(s.buf) - cap(b)
		if off >= 0 && off+len(b) <= len(s.buf) && &s.buf[off] == &b[0] {
			return s.doc[off : off+len(b)]
		}
	}
	chunk := min(max(len(s.buf)/arenaShare, minArenaChunk), maxArenaChunk)
	if len(b) > chunk/2 {
		return string(b) // long text: an allocation of its own wastes no chunk
	}
	if cap(s.arena)-len(s.arena) < len(b) {
		s.arena = make([]byte, 0, chunk)
	}
	start := len(s.arena)
	s.arena = append(s.arena, b...)
	// The bytes under the string are never written again: the arena only
	// grows past them, and a full chunk is replaced, not reused.
	return unsafe.String(&s.arena[start], len(b))
}

// An arena chunk is a share of the body (the upstream's records are about
// a quarter text the records keep), within bounds.
const (
	arenaShare    = 4
	minArenaChunk = 512
	maxArenaChunk = 16 << 10
)

// own makes the text sub hands out alias buf instead of a copy of it, for
// a buffer nothing writes to again and that is kept anyway for as long as
// the records (a cached answer).
func (s *scanner) own() {
	if s.doc == "" && len(s.buf) > 0 {
		// buf is never written again, which is what makes a string of it
		// sound.
		s.doc = unsafe.String(unsafe.SliceData(s.buf), len(s.buf))
	}
}

func (s *scanner) fail(msg string) error { return &syntaxError{msg: msg, off: s.off} }

func (s *scanner) unexpected(what string) error {
	if s.off >= len(s.buf) {
		return s.fail("unexpected end of JSON input")
	}
	return s.fail("invalid character " + strconv.QuoteRune(rune(s.buf[s.off])) + " " + what)
}

func (s *scanner) skipSpace() {
	for s.off < len(s.buf) {
		switch s.buf[s.off] {
		case ' ', '\t', '\n', '\r':
			s.off++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the end.
func (s *scanner) peek() byte {
	if s.off < len(s.buf) && s.buf[s.off] > ' ' { // the usual case: no space
		return s.buf[s.off]
	}
	s.skipSpace()
	if s.off >= len(s.buf) {
		return 0
	}
	return s.buf[s.off]
}

// end checks that only whitespace follows the top-level value.
func (s *scanner) end() error {
	s.skipSpace()
	if s.off < len(s.buf) {
		return s.unexpected("after top-level value")
	}
	return nil
}

// value consumes one value and returns its bytes.
func (s *scanner) value() ([]byte, error) {
	c := s.peek()
	start := s.off
	var err error
	switch {
	case c == '"':
		err = s.str()
	case c == '{':
		err = s.skipObject()
	case c == '[':
		err = s.skipArray()
	case c == 't':
		err = s.literal("true")
	case c == 'f':
		err = s.literal("false")
	case c == 'n':
		err = s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		err = s.number()
	default:
		err = s.unexpected("looking for beginning of value")
	}
	if err != nil {
		return nil, err
	}
	return s.buf[start:s.off], nil
}

// plain marks the bytes a string may hold without an escape; everything else
// ends the fast loop in str.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *scanner) str() error {
	s.off++ // opening quote
	for {
		// Locals, not fields: the compiler cannot keep s.off in a register.
		buf, i := s.buf, s.off
		for i < len(buf) && plain[buf[i]] {
			i++
		}
		s.off = i
		if s.off >= len(s.buf) {
			return s.fail("unexpected end of JSON input in string")
		}
		switch c := s.buf[s.off]; {
		case c == '"':
			s.off++
			return nil
		case c == '\\':
			s.off++
			if s.off >= len(s.buf) {
				return s.fail("unexpected end of JSON input in string escape")
			}
			switch s.buf[s.off] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.off++
			case 'u':
				s.off++
				for range 4 {
					if s.off >= len(s.buf) || !isHex(s.buf[s.off]) {
						return s.unexpected("in \\u hexadecimal character escape")
					}
					s.off++
				}
			default:
				return s.unexpected("in string escape code")
			}
		default:
			return s.unexpected("in string literal")
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (s *scanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if s.off >= len(s.buf) || s.buf[s.off] != word[i] {
			return s.unexpected("in literal " + word)
		}
		s.off++
	}
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.off < len(s.buf) && '0' <= s.buf[s.off] && s.buf[s.off] <= '9' {
		s.off++
		n++
	}
	return n
}

// number consumes a number in JSON's grammar: no leading zeros, no bare
// fraction or exponent, no plus sign.
func (s *scanner) number() error {
	if s.buf[s.off] == '-' {
		s.off++
	}
	if s.off < len(s.buf) && s.buf[s.off] == '0' {
		s.off++
	} else if s.digits() == 0 {
		return s.unexpected("in numeric literal")
	}
	if s.off < len(s.buf) && s.buf[s.off] == '.' {
		s.off++
		if s.digits() == 0 {
			return s.unexpected("after decimal point in numeric literal")
		}
	}
	if s.off < len(s.buf) && (s.buf[s.off] == 'e' || s.buf[s.off] == 'E') {
		s.off++
		if s.off < len(s.buf) && (s.buf[s.off] == '+' || s.buf[s.off] == '-') {
			s.off++
		}
		if s.digits() == 0 {
			return s.unexpected("in exponent of numeric literal")
		}
	}
	return nil
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	s.off++ // '{' or '['
	return nil
}

// nextMember advances to the next member of the object being walked (after
// enter) and returns its key, still escaped, leaving the scanner at the
// member's value. ok is false once the closing brace has been consumed.
func (s *scanner) nextMember(first bool) (key []byte, ok bool, err error) {
	c := s.peek()
	if c == '}' {
		if first {
			s.off++
			s.depth--
			return nil, false, nil
		}
	}
	if !first {
		switch c {
		case '}':
			s.off++
			s.depth--
			return nil, false, nil
		case ',':
			s.off++
			c = s.peek()
		default:
			return nil, false, s.unexpected("after object key:value pair")
		}
	}
	if c != '"' {
		return nil, false, s.unexpected("looking for beginning of object key string")
	}
	start := s.off + 1
	if err := s.str(); err != nil {
		return nil, false, err
	}
	key = s.buf[start : s.off-1]
	if s.peek() != ':' {
		return nil, false, s.unexpected("after object key")
	}
	s.off++
	return key, true, nil
}

// object walks the object at the scanner, calling fn with each member's
// still-escaped key and raw value, and leaves the scanner after the closing
// brace. It is the loop every record decoder would otherwise repeat.
func (s *scanner) object(fn func(key, value []byte)) error {
	if err := s.enter(); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, ok, err := s.nextMember(first)
		if err != nil || !ok {
			return err
		}
		v, err := s.value()
		if err != nil {
			return err
		}
		fn(key, v)
	}
}

// nextElement advances to the next element of the array being walked (after
// enter). ok is false once the closing bracket has been consumed.
func (s *scanner) nextElement(first bool) (ok bool, err error) {
	c := s.peek()
	if first {
		if c == ']' {
			s.off++
			s.depth--
			return false, nil
		}
		return true, nil
	}
	switch c {
	case ']':
		s.off++
		s.depth--
		return false, nil
	case ',':
		s.off++
		return true, nil
	default:
		return false, s.unexpected("after array element")
	}
}

func (s *scanner) skipObject() error {
	if err := s.enter(); err != nil {
		return err
	}
	for first := true; ; first = false {
		_, ok, err := s.nextMember(first)
		if err != nil || !ok {
			return err
		}
		if _, err := s.value(); err != nil {
			return err
		}
	}
}

func (s *scanner) skipArray() error {
	if err := s.enter(); err != nil {
		return err
	}
	for first := true; ; first = false {
		ok, err := s.nextElement(first)
		if err != nil || !ok {
			return err
		}
		if _, err := s.value(); err != nil {
			return err
		}
	}
}

// unquote returns the text of the JSON string literal q (quotes included),
// which the scanner has validated. It decodes exactly as encoding/json does,
// including its replacement of invalid UTF-8 and unpaired surrogates by
// U+FFFD.
func unquote(q []byte) string { return unquoteBody(q[1 : len(q)-1]) }

// unquoteBody is unquote for a string literal's content, quotes removed.
func unquoteBody(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) { // both vectorised
		return string(b)
	}
	i := 0
	for i < len(b) {
		c := b[i]
		if c == '\\' {
			break
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	if i == len(b) {
		return string(b)
	}
	var out strings.Builder
	out.Grow(len(b) + 8)
	out.Write(b[:i])
	for i < len(b) {
		c := b[i]
		switch {
		case c == '\\':
			i++
			switch b[i] {
			case 'b':
				out.WriteByte('\b')
			case 'f':
				out.WriteByte('\f')
			case 'n':
				out.WriteByte('\n')
			case 'r':
				out.WriteByte('\r')
			case 't':
				out.WriteByte('\t')
			case 'u':
				r := hex4(b[i+1:])
				i += 4
				if utf16.IsSurrogate(r) {
					if i+2 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
						if d := utf16.DecodeRune(r, hex4(b[i+3:])); d != utf8.RuneError {
							out.WriteRune(d)
							i += 7
							continue
						}
					}
					r = utf8.RuneError
				}
				out.WriteRune(r)
			default: // '"', '\\', '/'
				out.WriteByte(b[i])
			}
			i++
		case c < utf8.RuneSelf:
			// Copy the run up to the next escape or non-ASCII byte at once.
			j := i + 1
			for j < len(b) && b[j] != '\\' && b[j] < utf8.RuneSelf {
				j++
			}
			out.Write(b[i:j])
			i = j
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				out.WriteRune(utf8.RuneError)
			} else {
				out.Write(b[i : i+size])
			}
			i += size
		}
	}
	return out.String()
}

// hex4 reads the four hexadecimal digits the scanner has validated.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
