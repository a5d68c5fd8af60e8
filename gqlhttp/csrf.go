package gqlhttp

import (
	"mime"
	"net/http"
	"strings"

	"github.com/rs/cors"
)

// CSRF prevention, as Apollo Server and Router do it. A browser sends a
// cross-origin request without asking the server first (a CORS preflight)
// only when the request is "simple": GET or POST with at most a
// CORS-safelisted Content-Type (text/plain, application/x-www-form-urlencoded,
// multipart/form-data) and no custom header. Such a request can carry the
// victim's cookies and act on their behalf even though the attacker cannot
// read the answer. So an operation runs only if its request could not have
// been simple:
//
//   - a POST must have Content-Type: application/json (anything else is 415),
//     which browsers never send cross-origin without a preflight;
//   - a GET must have Content-Type: application/json or one of the
//     configured preflight headers; a GET with another Content-Type is 415.
//
// The preflight then goes through CORS, which admits only AllowedOrigins.

// requestMediaType checks a request's Content-Type: application/json,
// encoded in UTF-8 (the only encoding the GraphQL-over-HTTP specification
// defines). present is false when there is no Content-Type at all.
func requestMediaType(r *http.Request) (present, json bool) {
	ct := r.Header.Values("Content-Type")
	if len(ct) == 0 {
		return false, false
	}
	if len(ct) > 1 {
		return true, false
	}
	// What clients send, said without parsing (which makes a map).
	if strings.EqualFold(ct[0], "application/json") || strings.EqualFold(ct[0], "application/json; charset=utf-8") {
		return true, true
	}
	mt, params, err := mime.ParseMediaType(ct[0])
	if err != nil || mt != "application/json" {
		return true, false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return true, false
		}
	}
	return true, true
}

// hasPreflightHeader reports whether r carries one of the configured
// headers with a non-empty value.
func (o *Options) hasPreflightHeader(r *http.Request) bool {
	for _, h := range o.CSRFHeaders {
		if strings.TrimSpace(r.Header.Get(h)) != "" {
			return true
		}
	}
	return false
}

// tracingHeaders are what a page sends to trace its calls (browser
// OpenTelemetry, RUM agents): W3C Trace Context, W3C Baggage, and a request
// id of its own, which the Server keeps. Without them in a preflight's
// answer, the browser refuses the cross-origin call itself. They are the
// per-request headers salesgraph's sharing and caching leave out of their
// keys (package flight), which gqlhttp does not import: a test keeps the
// two lists the same.
var tracingHeaders = []string{"Traceparent", "Tracestate", "Baggage", RequestIDHeader}

// withCORS wraps next in CORS handling for the configured origins: GET,
// POST and QUERY (query_method.go); the content, forwarded, CSRF and
// tracing headers are allowed, and the request id is readable (with
// ETags, If-None-Match and the ETag too). With no origins, next is returned as it is:
// responses carry no CORS headers, so browsers let no other origin read
// them, and a preflight is answered without permission.
func (o *Options) withCORS(next http.Handler) http.Handler {
	if len(o.AllowedOrigins) == 0 {
		return next
	}
	headers := []string{"Content-Type", "Accept"}
	headers = append(headers, o.ForwardHeaders...)
	headers = append(headers, o.CSRFHeaders...)
	headers = append(headers, tracingHeaders...)
	exposed := []string{RequestIDHeader}
	if o.ETags {
		// For a client that revalidates by itself (etag.go): reading the
		// ETag and sending it back are not CORS-safelisted.
		headers = append(headers, "If-None-Match")
		exposed = append(exposed, "Etag")
	}
	return cors.New(cors.Options{
		AllowedOrigins: o.AllowedOrigins,
		AllowedMethods: corsMethods,
		AllowedHeaders: headers,
		ExposedHeaders: exposed,
		// Browsers cap this (Chromium at 2 hours); 10 minutes keeps a
		// changed allow-list from lingering in caches.
		MaxAge: 600,
		// Credentials travel in headers the page sets (Authorization), which
		// needs no credentials mode; cookies are not how this API is used.
		AllowCredentials: false,
	}).Handler(next)
}
