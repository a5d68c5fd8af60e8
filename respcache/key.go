package respcache

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/salesgraph/salesgraph/flight"
)

// A Key names one upstream request and the credential it was sent with:
// an HMAC-SHA256 of everything that was sent, and one of its headers alone
// (the credential, whatever header carries it, with whatever else was
// sent along). It stands in for the credential without revealing it, so it
// can be stored and shown; without the secret nobody can tell which
// credential (or which request) a key belongs to, or test guesses against
// it. Keys are comparable.
type Key struct {
	request    [sha256.Size]byte
	credential credential
}

// credential names the headers of a request, so that a refusal of one
// request reaches the entries of every request sent with them.
type credential [sha256.Size]byte

// String returns the request's key in lowercase hex, as it appears in
// Redis.
func (k Key) String() string { return hex.EncodeToString(k.request[:]) }

// MinSecretLen is the shortest secret [NewKeyer] accepts: the HMAC's
// security is no more than the secret's.
const MinSecretLen = 32

// A Keyer computes the keys of outgoing requests. It is safe for
// concurrent use.
type Keyer struct {
	secret []byte
}

// NewKeyer returns a keyer with secret, which replicas sharing a cache must
// share; it must be at least MinSecretLen bytes (else a *SecretError).
func NewKeyer(secret []byte) (*Keyer, error) {
	if len(secret) < MinSecretLen {
		return nil, &SecretError{fmt.Sprintf("must be at least %d bytes, got %d", MinSecretLen, len(secret))}
	}
	return &Keyer{secret: slices.Clone(secret)}, nil
}

// KeyerFor returns the keyer of a cache: NewKeyer(secret) when a secret is
// given; without one, a keyer with a random secret (NewRandomKeyer) for a
// cache only this process uses, but a *SecretError for one shared through
// Redis (shared): replicas that computed keys with secrets of their own
// would never find each other's entries.
func KeyerFor(secret []byte, shared bool) (*Keyer, error) {
	switch {
	case len(secret) > 0:
		return NewKeyer(secret)
	case shared:
		return nil, &SecretError{"is required for a cache shared through Redis: the replicas must compute the same keys"}
	}
	return NewRandomKeyer(), nil
}

// A SecretError is a key secret NewKeyer or KeyerFor refuses; Issue says
// why ("must be at least 32 bytes, got 5"), for a caller that names the
// secret in its own words.
type SecretError struct {
	Issue string
}

func (e *SecretError) Error() string { return "respcache: the key secret " + e.Issue }

// NewRandomKeyer returns a keyer with a secret random to this process: right
// for a cache only this process uses, whose keys need not survive it.
func NewRandomKeyer() *Keyer {
	secret := make([]byte, MinSecretLen)
	_, _ = rand.Read(secret) // never fails on supported platforms
	k, _ := NewKeyer(secret)
	return k
}

// Key returns the key of r as it will be sent: its method, scheme, host,
// path and query exactly as written, and every header (the credential
// included) but the per-request ones (flight.PerRequest: they differ on
// every request and never change the answer, so keying on them would make
// every lookup a miss), as flight.AppendHeader encodes them. Naming the
// headers to leave out rather than those to include means that a
// credential header nobody thought of can cost cache hits, never serve one
// caller's answer to another. Each part is length-prefixed, so no two
// different requests encode alike. The body is not part of the key: cache
// only requests without one (GET). The key's credential is those headers
// alone: requests for other paths with the same headers share it.
func (k *Keyer) Key(r *http.Request) Key {
	m := hmac.New(sha256.New, k.secret)
	writeField(m, "respcache/v1")
	writeField(m, r.Method)
	writeField(m, r.URL.Scheme)
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	writeField(m, host)
	writeField(m, r.URL.RequestURI())
	cm := hmac.New(sha256.New, k.secret)
	writeField(cm, "respcache/credential/v1")
	var buf [256]byte
	headers := flight.AppendHeader(buf[:0], r.Header)
	_, _ = m.Write(headers)
	_, _ = cm.Write(headers)
	var key Key
	m.Sum(key.request[:0])
	cm.Sum(key.credential[:0])
	return key
}

func writeField(w io.Writer, s string) {
	writeCount(w, len(s))
	_, _ = io.WriteString(w, s)
}

func writeCount(w io.Writer, n int) {
	var b [binary.MaxVarintLen64]byte
	_, _ = w.Write(b[:binary.PutUvarint(b[:], uint64(n))])
}
