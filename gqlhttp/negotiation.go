package gqlhttp

import (
	"mime"
	"strconv"
	"strings"
)

// Content negotiation: the media type a response is written in, from the
// request's Accept header (multipart/mixed for incremental delivery is
// incremental_wire.go's; the request's own Content-Type is csrf.go's).

// Media types of GraphQL responses.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// negotiate picks the response media type from Accept: the supported type
// with the highest q, where a type's q comes from the most specific range
// that matches it (RFC 9110 section 12.5.1); ties go to the more specific
// match, then to application/graphql-response+json. No Accept at all means
// application/graphql-response+json, as the specification says since 2025.
func negotiate(values []string) (string, bool) {
	header := strings.Join(values, ",")
	if strings.TrimSpace(header) == "" {
		return mediaGraphQLResponse, true
	}
	type match struct {
		q     float64
		spec  int
		found bool
	}
	var gr, js match
	for _, part := range strings.Split(header, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			continue
		}
		for _, c := range []struct {
			m   *match
			typ string
		}{{&gr, mediaGraphQLResponse}, {&js, mediaJSON}} {
			spec := -1
			switch mt {
			case c.typ:
				spec = 2
			case "application/*":
				spec = 1
			case "*/*":
				spec = 0
			}
			if spec >= 0 && (!c.m.found || spec > c.m.spec) {
				*c.m = match{q: q, spec: spec, found: true}
			}
		}
	}
	okGR, okJS := gr.found && gr.q > 0, js.found && js.q > 0
	switch {
	case okGR && okJS:
		if js.q > gr.q || (js.q == gr.q && js.spec > gr.spec) {
			return mediaJSON, true
		}
		return mediaGraphQLResponse, true
	case okGR:
		return mediaGraphQLResponse, true
	case okJS:
		return mediaJSON, true
	}
	return "", false
}
