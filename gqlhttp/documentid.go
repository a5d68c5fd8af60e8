package gqlhttp

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"
)

// Persisted documents by id: the documentId request parameter of the
// GraphQL-over-HTTP draft's persisted-documents appendix
// (graphql/graphql-over-http#264), beside APQ's
// extensions.persistedQuery (apq.go). A client built with its operations
// registered (a trusted-documents manifest, the allow-list) sends
// {"documentId": "sha256:<hex>", "variables": …} over POST or QUERY, or
// ?documentId=sha256:<hex>&variables=… over GET.
//
// An identifier is, as the draft says, either prefixed (prefix, colon,
// payload) or custom (no colon), in RFC 3986's unreserved characters and
// colons. This server knows one prefix, sha256 (the SHA-256 of the
// document's exact text, in hex: the draft's SHA256 hex document
// identifier, and the same hash APQ uses), and custom identifiers that
// are ids of the allow-list's manifest (LoadOperations) or a bare 64-digit
// hex SHA-256 (which Hive and other gateways accept). In allow-list mode
// the identifier is looked up in the allow-list; otherwise, a SHA-256 in
// the APQ store (a document APQ registered). An identifier known nowhere
// is PERSISTED_QUERY_NOT_FOUND (404): the request carries no document, so
// there is nothing to run; with neither APQ nor an allow-list it is
// PERSISTED_QUERY_NOT_SUPPORTED. A request with documentId and query, or
// documentId and extensions.persistedQuery, is malformed: which one would
// run is not the server's to guess.

// maxDocumentID bounds an identifier: a SHA-256's is 71 characters, a
// manifest's ids are shorter still.
const maxDocumentID = 256

// byDocumentID returns the document r's documentId names.
func (p *persisted) byDocumentID(ctx context.Context, r *rawRequest) (string, *reqError) {
	switch {
	case r.hasQuery:
		return "", malformed("the request has both query and documentId: send one of them")
	case r.extensions["persistedQuery"] != nil:
		return "", malformed("the request has both documentId and extensions.persistedQuery: send one of them")
	case !validDocumentID(r.documentID):
		return "", malformed("documentId must be a document identifier: sha256: and the 64 hex digits of the document's SHA-256, or an id of the server's manifest (letters, digits, -._~ and colons, at most 256 characters)")
	}
	prefix, payload, prefixed := strings.Cut(r.documentID, ":")
	key, isHash := strings.ToLower(r.documentID), false
	switch {
	case prefixed && prefix != "sha256":
		return "", documentNotFound("documentId's prefix is not one this server knows (it knows sha256:)")
	case prefixed:
		if !isSHA256Hex(payload) {
			return "", malformed("a sha256: documentId is followed by the 64 hex digits of the document's SHA-256")
		}
		key, isHash = strings.ToLower(payload), true
	default:
		isHash = isSHA256Hex(key)
	}
	switch {
	case p.allow != nil:
		if doc, ok := p.allow[key]; ok {
			return doc, nil
		}
	case p.apq == nil:
		return "", requestErr(http.StatusBadRequest, CodePersistedQueryNotSupported, "this server keeps no persisted documents: send the document as query")
	case isHash:
		if doc, ok := p.apq.Get(ctx, key); ok {
			return doc, nil
		}
	}
	return "", documentNotFound("no persisted document has this documentId")
}

func documentNotFound(msg string) *reqError {
	return requestErr(http.StatusNotFound, CodePersistedQueryNotFound, msg)
}

// validDocumentID is the draft's document identifier syntax: unreserved
// characters (RFC 3986 section 2.3) and colons, not starting with one.
func validDocumentID(id string) bool {
	if id == "" || len(id) > maxDocumentID || id[0] == ':' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == ':':
		default:
			return false
		}
	}
	return true
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
