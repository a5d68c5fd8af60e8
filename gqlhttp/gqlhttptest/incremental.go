// Package gqlhttptest reads gqlhttp's answers as a client does, for tests:
// an incremental (@defer, @stream) multipart/mixed response, part by part, in either
// of its formats (deferSpec=20220824 and incrementalSpec=v0.2), and the
// result a client assembles from its parts. It is to gqlhttp what
// net/http/httptest is to net/http: test support, imported by tests only.
package gqlhttptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The incremental formats, as their media type parameter names them.
const (
	Defer20220824  = "deferSpec=20220824"
	IncrementalV02 = "incrementalSpec=v0.2"
)

// Payload is one part of a multipart/mixed response: the initial payload
// (data, errors, and in v0.2 pending) or a subsequent one (incremental,
// and in v0.2 pending and completed), with errors decoded as E, the test's
// own error type.
type Payload[E any] struct {
	Spec        string           `json:"-"` // the response's format: Defer20220824 or IncrementalV02
	Data        json.RawMessage  `json:"data"`
	Errors      []E              `json:"errors"`
	HasNext     *bool            `json:"hasNext"`
	Pending     []Pending        `json:"pending"`
	Incremental []Incremental[E] `json:"incremental"`
	Completed   []Completed[E]   `json:"completed"`
	raw         map[string]json.RawMessage
}

// Pending announces a result to come (v0.2).
type Pending struct {
	ID    string `json:"id"`
	Path  []any  `json:"path"`
	Label string `json:"label"`
}

// Incremental is a deferred fragment's data: at Path (2022), or at the
// path of the pending result ID, then SubPath (v0.2); or a stream's Items:
// from the list index that ends Path (2022), or after the items the list
// at the pending result's path has (v0.2).
type Incremental[E any] struct {
	ID      string          `json:"id"`
	Data    json.RawMessage `json:"data"`
	Items   json.RawMessage `json:"items"`
	Path    []any           `json:"path"`
	SubPath []any           `json:"subPath"`
	Label   string          `json:"label"`
	Errors  []E             `json:"errors"`
}

// Completed closes a pending result (v0.2), with its errors if it failed.
type Completed[E any] struct {
	ID     string `json:"id"`
	Errors []E    `json:"errors"`
}

var members = map[string]map[string]bool{
	Defer20220824:  {"data": true, "errors": true, "hasNext": true, "incremental": true, "extensions": true},
	IncrementalV02: {"data": true, "errors": true, "hasNext": true, "pending": true, "incremental": true, "completed": true, "extensions": true},
}

// ReadParts parses a multipart/mixed incremental response as a client
// would, failing t unless it is well formed: the boundary and the format
// from contentType, the closing delimiter at the end, each part's own
// Content-Type, only the format's members in each payload, and hasNext
// true on every payload but the last. In v0.2 it also checks the ids: each
// announced once, delivered and completed only after it was announced,
// completed exactly once, and every one completed by the end.
func ReadParts[E any](t testing.TB, contentType string, body []byte) []Payload[E] {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mt)
	var spec string
	switch {
	case params["deferspec"] == "20220824" && params["incrementalspec"] == "":
		spec = Defer20220824
	case params["incrementalspec"] == "v0.2" && params["deferspec"] == "":
		spec = IncrementalV02
	default:
		require.Failf(t, "no incremental format", "Content-Type %q names neither deferSpec=20220824 nor incrementalSpec=v0.2", contentType)
	}
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
		require.NoError(t, json.Unmarshal(b, &pl.raw))
		for k := range pl.raw {
			assert.True(t, members[spec][k], "%s has no member %q: %s", spec, k, b)
		}
		require.NotNil(t, pl.HasNext, "every payload says whether more follow: %s", b)
		pl.Spec = spec
		out = append(out, pl)
	}
	require.NotEmpty(t, out)
	for i, pl := range out {
		assert.Equal(t, i < len(out)-1, *pl.HasNext, "hasNext of payload %d of %d", i, len(out))
	}
	if spec == IncrementalV02 {
		checkIDs(t, out)
	}
	return out
}

func checkIDs[E any](t testing.TB, parts []Payload[E]) {
	t.Helper()
	state := map[string]string{} // id → "pending", "completed"
	for i, pl := range parts {
		for _, p := range pl.Pending {
			require.NotEmpty(t, p.ID, "part %d: a pending result without an id", i)
			require.NotNil(t, p.Path, "part %d: pending %s has no path", i, p.ID)
			require.Empty(t, state[p.ID], "part %d: id %s announced twice", i, p.ID)
			state[p.ID] = "pending"
		}
		for _, it := range pl.Incremental {
			require.Equal(t, "pending", state[it.ID], "part %d: data for id %q, which is not pending", i, it.ID)
			require.Nil(t, it.Path, "part %d: a v0.2 result has an id, not a path", i)
		}
		for _, c := range pl.Completed {
			require.Equal(t, "pending", state[c.ID], "part %d: id %q completed but not pending", i, c.ID)
			state[c.ID] = "completed"
		}
	}
	for id, s := range state {
		assert.Equal(t, "completed", s, "id %s was never completed", id)
	}
}

// Merge applies the payloads as a client does: each result's data merged
// into the object at its path. A field that a result brings must not be
// in that object already: a deferred field arrives once, in its own part,
// never as a placeholder before it. In v0.2, a result announced in a part
// must have its object in the data once that part is applied. It returns
// the data and every error, the initial payload's first, then each part's
// in order (a failed fragment's from its completed entry).
func Merge[E any](t testing.TB, parts []Payload[E]) (any, []E) {
	t.Helper()
	var data any
	require.NoError(t, json.Unmarshal(parts[0].Data, &data))
	errs := parts[0].Errors
	paths := map[string][]any{}
	for i, pl := range parts {
		for _, p := range pl.Pending {
			paths[p.ID] = p.Path
		}
		if i > 0 {
			require.Nil(t, pl.Data, "a subsequent payload has no top-level data")
		}
		for _, it := range pl.Incremental {
			errs = append(errs, it.Errors...)
			path := it.Path
			if pl.Spec == IncrementalV02 {
				path = append(append([]any{}, paths[it.ID]...), it.SubPath...)
			}
			if it.Items != nil {
				data = appendItems(t, data, path, pl.Spec == Defer20220824, it.Items, i)
				continue
			}
			var fields map[string]any
			require.NoError(t, json.Unmarshal(it.Data, &fields))
			if fields == nil {
				continue // a failed fragment (2022)
			}
			obj := objectAt(t, data, path, i)
			for k, v := range fields {
				_, there := obj[k]
				require.False(t, there, "part %d: %s at %v was sent before its own part", i, k, path)
				obj[k] = v
			}
		}
		for _, c := range pl.Completed {
			errs = append(errs, c.Errors...)
		}
		for _, p := range pl.Pending {
			if _, isList := valueAt(t, data, p.Path, i).([]any); !isList { // a stream's path is its list's
				objectAt(t, data, p.Path, i)
			}
		}
	}
	return data, errs
}

// appendItems adds a stream's items to the list at path (v0.2), or at path
// without its last element, which must be the list's length (2022): items
// come in order, each once. A null items (2022: a non-null element failed)
// adds nothing.
func appendItems(t testing.TB, data any, path []any, indexed bool, raw json.RawMessage, part int) any {
	t.Helper()
	var items []any
	require.NoError(t, json.Unmarshal(raw, &items))
	if items == nil {
		return data
	}
	listPath := path
	if indexed {
		require.NotEmpty(t, path, "part %d: items without a path", part)
		listPath = path[:len(path)-1]
	}
	require.NotEmpty(t, listPath, "part %d: items at the root", part)
	parent := data
	if len(listPath) > 1 {
		parent = valueAt(t, data, listPath[:len(listPath)-1], part)
	}
	key := listPath[len(listPath)-1]
	switch p := parent.(type) {
	case map[string]any:
		k, _ := key.(string)
		list, ok := p[k].([]any)
		require.True(t, ok, "part %d: no list at %v", part, listPath)
		if indexed {
			require.Equal(t, float64(len(list)), path[len(path)-1], "part %d: items at %v, after %d elements", part, path, len(list))
		}
		p[k] = append(list, items...)
	case []any:
		k, _ := key.(float64)
		list, ok := p[int(k)].([]any)
		require.True(t, ok, "part %d: no list at %v", part, listPath)
		p[int(k)] = append(list, items...)
	default:
		require.Failf(t, "no list", "part %d: nothing holds a list at %v", part, listPath)
	}
	return data
}

// valueAt is the value at path in data, failing t when there is none.
func valueAt(t testing.TB, data any, path []any, part int) any {
	t.Helper()
	at := data
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := at.(map[string]any)
			require.True(t, ok, "part %d: no object at %v", part, path)
			at = m[p]
		case float64:
			l, ok := at.([]any)
			require.True(t, ok && int(p) < len(l), "part %d: no list item at %v", part, path)
			at = l[int(p)]
		}
	}
	return at
}

// objectAt is the object at path in data, failing t when there is none.
func objectAt(t testing.TB, data any, path []any, part int) map[string]any {
	t.Helper()
	obj, ok := valueAt(t, data, path, part).(map[string]any)
	require.True(t, ok, "part %d: no object at %v", part, path)
	return obj
}

// Labels counts the deferred fragments and streams of a response by label
// ("" for none): as v0.2 announces them in pending, and as 2022 labels
// each incremental result.
func Labels[E any](parts []Payload[E]) map[string]int {
	labels := map[string]int{}
	for _, pl := range parts {
		for _, p := range pl.Pending {
			labels[p.Label]++
		}
		if pl.Spec == Defer20220824 {
			for _, it := range pl.Incremental {
				labels[it.Label]++
			}
		}
	}
	return labels
}

// JSON is v as compact JSON, for comparing a merged result.
func JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// String describes the parts, for a failure message.
func String[E any](parts []Payload[E]) string {
	var b bytes.Buffer
	for i, pl := range parts {
		raw, _ := json.Marshal(pl.raw)
		fmt.Fprintf(&b, "part %d: %s\n", i, raw)
	}
	return b.String()
}

// PartReader reads a multipart/mixed response's payloads one at a time, as
// they arrive, for a test that acts between them (releases a held upstream
// call, say). The server writes each part's closing delimiter with the
// part, so Next returns a part as soon as it was sent.
type PartReader struct {
	r *multipart.Reader
}

// NewPartReader reads body, a response of contentType.
func NewPartReader(t testing.TB, contentType string, body io.Reader) *PartReader {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mt)
	return &PartReader{r: multipart.NewReader(body, params["boundary"])}
}

// Next returns the next payload, or false after the last.
func (p *PartReader) Next(t testing.TB) (json.RawMessage, bool) {
	t.Helper()
	part, err := p.r.NextPart()
	if err == io.EOF {
		return nil, false
	}
	require.NoError(t, err)
	b, err := io.ReadAll(part)
	require.NoError(t, err)
	return b, true
}
