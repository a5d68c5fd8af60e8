package gqlhttp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
)

// Validators for the answers of safe requests (Options.ETags): a GET's or
// a QUERY's answer gets a strong ETag, and a request whose If-None-Match
// names it gets 304 Not Modified with no body, so that a screen that
// polls downloads an answer only when it changed. The operation still
// runs (the ETag is of its answer, which is known only once it is built):
// what is saved is the transfer and the client's parsing, not the
// upstream calls.
//
// The ETag can never let one caller's answer stand for another's. It is a
// keyed SHA-256 of the answer's bytes, its media type and the request's
// forwarded headers (ForwardHeaders: the credential), so the same body
// fetched with another credential has another ETag; the key
// (Options.ETagSecret, else random per process) keeps it from being a
// hash of the credential that could be checked against guesses. Vary
// names the forwarded headers and Accept, and Cache-Control stays private:
// no shared cache keeps the answer.
//
// Cache-Control is "private, no-cache" on an answer with an ETag, where
// every other answer has "private, no-store": a browser sends
// If-None-Match only for an answer it stored, and no-cache lets it store
// the answer but never use it without asking first. An answer with errors
// (partial data included), or one its application marked with NoETag (an
// answer served from stale upstream data), gets no ETag: it is right now
// but is not to be confirmed later, and a client should get it again in
// full. Answers to POST, batches and streamed answers get none either.

// etagKeySize is the key's length; a secret of any length is hashed to it.
const etagKeySize = 32

// etagKey derives the ETag key from secret, or makes a random one.
func etagKey(secret []byte) (k [etagKeySize]byte) {
	if len(secret) == 0 {
		_, _ = rand.Read(k[:]) // never fails on supported platforms
		return k
	}
	d := sha256.New()
	d.Write([]byte("gqlhttp etag key\x00"))
	d.Write(secret)
	d.Sum(k[:0])
	return k
}

var cacheControlRevalidate = shared("private, no-cache")

// NoETag says that the answer of the request ctx belongs to must carry no
// ETag (Options.ETags): it holds data that is not to be confirmed as
// current by a 304 later, such as an answer served from a stale copy
// while the source of the data failed. It is for the extensions given to
// Server.Use; outside a request it does nothing.
func NoETag(ctx context.Context) {
	if rv, _ := ctx.Value(requestKey{}).(*requestValues); rv != nil {
		rv.noETag.Store(true)
	}
}

// validate gives res, the answer to a GET or QUERY request r, its ETag
// and answers 304 when r's If-None-Match names it: it reports whether it
// did (nothing more is to be written).
func (t *httpTransport) validate(w http.ResponseWriter, r *http.Request, media string, res *result) bool {
	if res.status != http.StatusOK || hasErrors(res) {
		return false
	}
	if rv, _ := r.Context().Value(requestKey{}).(*requestValues); rv != nil && rv.noETag.Load() {
		return false
	}
	tag := t.etag(r.Header, media, res)
	h := w.Header()
	h["Etag"] = []string{tag}
	h["Cache-Control"] = cacheControlRevalidate
	if !etagMatches(r.Header["If-None-Match"], tag) {
		return false
	}
	t.setTiming(r.Context(), h)
	w.WriteHeader(http.StatusNotModified)
	return true
}

// errorsFirst is how an answer with errors starts.
var errorsFirst = []byte(`{"errors":`)

// hasErrors reports whether res holds errors: encode and refusal write
// them first, so the answer starts with them.
func hasErrors(res *result) bool {
	return bytes.HasPrefix(res.head, errorsFirst)
}

// etag is the strong ETag of res for a request with header h, written in
// media: a keyed SHA-256 of the forwarded headers, the media type and the
// body, every field length-prefixed so that no two inputs encode alike.
func (t *httpTransport) etag(h http.Header, media string, res *result) string {
	d := sha256.New()
	var n [binary.MaxVarintLen64]byte
	field := func(s string) {
		d.Write(binary.AppendUvarint(n[:0], uint64(len(s))))
		d.Write([]byte(s))
	}
	d.Write(t.etagKey[:])
	for _, name := range t.opts.ForwardHeaders {
		vs := h[name]
		d.Write(binary.AppendUvarint(n[:0], uint64(len(vs))))
		for _, v := range vs {
			field(v)
		}
	}
	field(media)
	d.Write(binary.AppendUvarint(n[:0], uint64(res.size())))
	d.Write(res.head)
	d.Write(res.data)
	d.Write(res.tail)
	var sum [sha256.Size]byte
	d.Sum(sum[:0])
	// 144 bits: as unguessable as needed, in 24 characters.
	var out [2 + 24]byte
	out[0], out[len(out)-1] = '"', '"'
	base64.RawURLEncoding.Encode(out[1:len(out)-1], sum[:18])
	return string(out[:])
}

// etagMatches is If-None-Match's weak comparison (RFC 9110 section
// 13.1.2): "*", or any listed entity tag whose opaque part is tag's.
func etagMatches(values []string, tag string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimPrefix(strings.TrimSpace(item), "W/")
			if item == "*" || item == tag {
				return true
			}
		}
	}
	return false
}
