package observe

import (
	"crypto/rand"
	"encoding/hex"
)

// RequestIDHeader carries the request id: accepted from callers, returned to
// them, and sent upstream.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an accepted id, so that a caller cannot make every
// log line carry a kilobyte of its choosing.
const maxRequestIDLen = 64

// ValidRequestID reports whether s is acceptable as a caller's request id:
// 1 to 64 characters from [A-Za-z0-9._-]. Anything else (spaces, quotes,
// control characters, non-ASCII) could forge or break log lines and headers.
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// NewRequestID returns a fresh random id: 24 hex digits (96 bits), so that
// ids from many replicas never collide in practice.
func NewRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand's contract since Go 1.24)
	return hex.EncodeToString(b[:])
}

// RequestID returns the caller's id when it is valid, else a fresh one: an
// id from a proxy or a client ties their logs to ours, and an invalid one is
// replaced rather than refused, since refusing it would fail a request over
// a header that only diagnostics read.
func RequestID(fromCaller string) string {
	if ValidRequestID(fromCaller) {
		return fromCaller
	}
	return NewRequestID()
}
