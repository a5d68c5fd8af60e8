// Package gqlhttptest reads gqlhttp's answers as a client does, for tests:
// an incremental (@defer) multipart/mixed response, part by part, and the
// result a client assembles from its parts. It is to gqlhttp what
// net/http/httptest is to net/http: test support, imported by tests only.
package gqlhttptest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Payload is one part of a multipart/mixed response: the initial payload
// (data, errors) or a subsequent one (incremental), with errors decoded as
// E, the test's own error type.
type Payload[E any] struct {
	Data        json.RawMessage `json:"data"`
	Errors      []E             `json:"errors"`
	HasNext     *bool           `json:"hasNext"`
	Incremental []struct {
		Data   json.RawMessage `json:"data"`
		Path   []any           `json:"path"`
		Label  string          `json:"label"`
		Errors []E             `json:"errors"`
	} `json:"incremental"`
}

// ReadParts parses a multipart/mixed incremental response as a client
// would, failing t unless it is well formed: the boundary and deferSpec
// from contentType, the closing delimiter at the end, each part's own
// Content-Type, and hasNext true on every payload but the last.
func ReadParts[E any](t testing.TB, contentType string, body []byte) []Payload[E] {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mt)
	assert.Equal(t, "20220824", params["deferspec"])
	require.NotEmpty(t, params["boundary"])
	require.True(t, bytes.HasSuffix(body, []byte("\r\n--"+params["boundary"]+"--\r\n")), "the closing delimiter ends the body: %q", body)
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out []Payload[E]
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, "application/json; charset=utf-8", p.Header.Get("Content-Type"))
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		var pl Payload[E]
		require.NoError(t, json.Unmarshal(b, &pl), "%s", b)
		require.NotNil(t, pl.HasNext, "every payload says whether more follow: %s", b)
		out = append(out, pl)
	}
	require.NotEmpty(t, out)
	for i, pl := range out {
		assert.Equal(t, i < len(out)-1, *pl.HasNext, "hasNext of payload %d of %d", i, len(out))
	}
	return out
}

// Merge applies the payloads as a client does: each incremental item's
// data merged into the object at its path. It returns the data and every
// error, the initial payload's first.
func Merge[E any](t testing.TB, parts []Payload[E]) (any, []E) {
	t.Helper()
	var data any
	require.NoError(t, json.Unmarshal(parts[0].Data, &data))
	errs := parts[0].Errors
	for _, pl := range parts[1:] {
		require.Nil(t, pl.Data, "a subsequent payload has no top-level data")
		for _, it := range pl.Incremental {
			errs = append(errs, it.Errors...)
			at := data
			for _, p := range it.Path {
				switch p := p.(type) {
				case string:
					at = at.(map[string]any)[p]
				case float64:
					at = at.([]any)[int(p)]
				}
			}
			var fields map[string]any
			require.NoError(t, json.Unmarshal(it.Data, &fields))
			for k, v := range fields {
				at.(map[string]any)[k] = v
			}
		}
	}
	return data, errs
}
