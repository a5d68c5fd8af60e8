package gqlhttp

import (
	"fmt"
	"net/http"
	"strings"
)

// reservedHeaders may never be forwarded upstream, whatever the
// configuration says: they describe one HTTP hop (RFC 9110 section 7.6.1),
// frame the message, or are set by the upstream client itself, so a caller's
// value would corrupt or smuggle the upstream request rather than authorise
// it.
var reservedHeaders = map[string]string{
	"Connection":          "hop-by-hop",
	"Keep-Alive":          "hop-by-hop",
	"Te":                  "hop-by-hop",
	"Trailer":             "hop-by-hop",
	"Transfer-Encoding":   "hop-by-hop",
	"Upgrade":             "hop-by-hop",
	"Host":                "set from the upstream URL",
	"Content-Length":      "message framing",
	"Content-Type":        "set by the upstream client",
	"Content-Encoding":    "message framing",
	"Accept":              "set by the upstream client",
	"Accept-Encoding":     "set by the upstream client's transport",
	"Expect":              "message framing",
	"Http2-Settings":      "hop-by-hop",
	"Proxy-Connection":    "hop-by-hop",
	"Proxy-Authorization": "meant for a proxy, not the API",
	"Proxy-Authenticate":  "meant for a proxy, not the API",
}

// checkForwardHeaders says what is wrong with the forwarded-header
// allow-list, one entry per bad header.
func checkForwardHeaders(names []string) []string {
	var bad []string
	for _, h := range names {
		switch reason, reserved := reservedHeaders[h]; {
		case !validHeaderName(h):
			bad = append(bad, fmt.Sprintf("%q is not a valid header name", h))
		case reserved:
			bad = append(bad, fmt.Sprintf("%s cannot be forwarded (%s)", h, reason))
		case strings.HasPrefix(h, "Proxy-"):
			bad = append(bad, fmt.Sprintf("%s cannot be forwarded (Proxy-* headers are meant for a proxy)", h))
		}
	}
	return bad
}

// validHeaderName reports whether h is an RFC 9110 token.
func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// forwardedHeaders picks the allow-listed headers of a request's h, exactly
// those. A header the caller named in Connection is hop-by-hop for this
// request (RFC 9110 section 7.6.1) and is dropped even when allow-listed.
func forwardedHeaders(h http.Header, allow []string) http.Header {
	var hop map[string]bool
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				if hop == nil {
					hop = map[string]bool{}
				}
				hop[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	fwd := make(http.Header, len(allow))
	for _, name := range allow {
		if hop[name] {
			continue
		}
		if vs := h.Values(name); len(vs) > 0 {
			fwd[name] = append([]string(nil), vs...)
		}
	}
	return fwd
}
