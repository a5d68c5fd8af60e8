package flight

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"slices"
	"strings"
)

// PerRequest reports whether the header with the canonical name name is
// one of the per-request headers: X-Request-Id, and W3C Trace Context and
// Baggage (Traceparent, Tracestate, Baggage). They differ on every request
// and never change its answer, so whatever names a request by what it
// asks and who asks it (a Key, a response cache's key, a caller's
// identity) leaves them out. Naming what to leave out, rather than what
// to keep, means that a credential header nobody thought of can only cost
// sharing, never hand one caller's answer to another.
func PerRequest(name string) bool {
	switch name {
	case "X-Request-Id", "Traceparent", "Tracestate", "Baggage":
		return true
	}
	return false
}

// PerRequestHeaders returns the canonical names PerRequest accepts.
func PerRequestHeaders() []string {
	return []string{"X-Request-Id", "Traceparent", "Tracestate", "Baggage"}
}

// AppendHeader appends to b an encoding of every header in h but the
// per-request ones: the count of names, then each name, canonical, in
// sorted order, with the count of its values and each value in order.
// Every name, value and count is length-prefixed (uvarint), so that no two
// different sets of headers encode alike. A map filled by hand with both
// "authorization" and "Authorization" keeps both, sorted by their raw
// names, so that its encoding is the same every time.
func AppendHeader(b []byte, h http.Header) []byte {
	// Each name made canonical once, not at every comparison of the sort:
	// this runs for every request that is keyed.
	type name struct{ canonical, raw string }
	var buf [16]name
	names := buf[:0]
	for raw := range h {
		if c := http.CanonicalHeaderKey(raw); !PerRequest(c) {
			names = append(names, name{c, raw})
		}
	}
	slices.SortFunc(names, func(a, b name) int {
		if c := strings.Compare(a.canonical, b.canonical); c != 0 {
			return c
		}
		return strings.Compare(a.raw, b.raw)
	})
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = appendField(b, n.canonical)
		vs := h[n.raw]
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendField(b, v)
		}
	}
	return b
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// A Key names what a call computes: a SHA-256 of the request it answers,
// salted with a secret random to its Group, so that a key holds no
// credential and cannot be checked against guessed requests. Keys are
// comparable.
type Key [sha256.Size]byte

// salt is a Group's secret, made on first use.
func (g *Group[V]) salt() *[32]byte {
	g.saltOnce.Do(func() {
		_, _ = rand.Read(g.saltBytes[:]) // never fails on supported platforms
	})
	return &g.saltBytes
}

// Key returns the key of the request method target (the path and query as
// sent) with body and headers h: two requests have the same key exactly
// when they are the same but for their per-request headers (PerRequest).
func (g *Group[V]) Key(method, target string, body []byte, h http.Header) Key {
	var buf [512]byte
	b := append(buf[:0], g.salt()[:]...)
	b = appendField(b, method)
	b = appendField(b, target)
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = append(b, body...)
	b = AppendHeader(b, h)
	return sha256.Sum256(b)
}
