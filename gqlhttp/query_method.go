package gqlhttp

import "net/http"

// The HTTP QUERY method (RFC 10008): a safe, idempotent request with a
// body, which the GraphQL-over-HTTP draft takes for queries
// (graphql/graphql-over-http#411). It has a POST's body, read and limited
// as a POST's (request.go: application/json, MaxRequestBytes), with a
// GET's meaning: it runs only queries (a mutation over QUERY is 405 with
// Allow: POST, before validation), and its answer may carry an ETag
// (etag.go). Persisted operations, the allow-list and every document
// limit apply as to a POST.
//
// CSRF: QUERY is not a CORS-safelisted method, so a browser never sends it
// cross-origin without a preflight, which only AllowedOrigins pass; the
// JSON Content-Type a POST needs is required of it all the same, so that
// one rule holds for every request with a body.

// MethodQuery is the HTTP QUERY method; net/http has no constant for it.
const MethodQuery = "QUERY"

// allowedMethods is the Allow header of an OPTIONS answer and a 405,
// shared by all of them (server.go's shared values).
var allowedMethods = shared("GET, POST, QUERY, OPTIONS")

// corsMethods are the methods a CORS preflight may ask for.
var corsMethods = []string{http.MethodGet, http.MethodPost, MethodQuery}

// safeMethod is method when it runs only queries (GET, QUERY), else "".
func safeMethod(method string) string {
	switch method {
	case http.MethodGet, MethodQuery:
		return method
	}
	return ""
}
