package gqlhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Reading a GraphQL-over-HTTP request: the URL query of a GET, the JSON
// object of a POST (its members found by a scanner that copies nothing),
// a JSON array of them (a batch), and the body-size limit.

// rawRequest is one GraphQL-over-HTTP request's parameters.
type rawRequest struct {
	query         string
	hasQuery      bool
	operationName string
	variables     map[string]any
	extensions    map[string]any
	documentID    string // a persisted document's identifier (documentid.go)
	hasDocumentID bool
}

// readRequests reads the request's parameters: one operation, or a batch.
func (t *httpTransport) readRequests(w http.ResponseWriter, r *http.Request) ([]*rawRequest, bool, *reqError) {
	present, isJSON := requestMediaType(r)
	if r.Method == http.MethodGet {
		switch {
		case present && !isJSON:
			return nil, false, transportErr(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "a GET request must have no Content-Type or application/json")
		case !present && !t.opts.hasPreflightHeader(r):
			return nil, false, transportErr(http.StatusBadRequest, CodeCSRFPrevented,
				"this request was refused as a possible cross-site request forgery: send Content-Type: application/json or one of these headers: "+strings.Join(t.opts.CSRFHeaders, ", "))
		}
		q, rerr := readGET(r.URL.RawQuery)
		if rerr != nil {
			return nil, false, rerr
		}
		return []*rawRequest{q}, false, nil
	}
	if !isJSON {
		return nil, false, transportErr(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "a POST body must be application/json (UTF-8)")
	}
	if r.ContentLength > t.opts.MaxRequestBytes {
		return nil, false, t.tooLarge()
	}
	var body []byte
	if pre, ok := r.Body.(*prereadBody); ok {
		body = pre.rest()
		if int64(len(body)) > t.opts.MaxRequestBytes {
			return nil, false, t.tooLarge()
		}
	} else {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, t.opts.MaxRequestBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, false, t.tooLarge()
			}
			return nil, false, malformed("the request body could not be read")
		}
	}
	body = bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(body) == 0:
		return nil, false, malformed("the request body is empty; it must be a JSON object with a query")
	case body[0] == '[':
		return t.readBatch(body)
	case body[0] != '{':
		return nil, false, malformed("the request body must be a JSON object with a query")
	}
	q, rerr := readPOST(body)
	if rerr != nil {
		return nil, false, rerr
	}
	return []*rawRequest{q}, false, nil
}

// tooLarge refuses a body over MaxRequestBytes.
func (t *httpTransport) tooLarge() *reqError {
	return transportErr(http.StatusRequestEntityTooLarge, CodeRequestTooLarge, fmt.Sprintf("the request body is larger than %d bytes", t.opts.MaxRequestBytes))
}

// PrereadBody is a request body for the endpoint that a handler in front
// of it has read whole already (to key the request, say): the transport
// reads what is left of it in place, where it would copy a body it reads.
// body must not change until the request is answered. The size limit
// still applies.
func PrereadBody(body []byte) io.ReadCloser {
	p := &prereadBody{whole: body}
	p.Reset(body)
	return p
}

type prereadBody struct {
	bytes.Reader
	whole []byte
}

func (*prereadBody) Close() error { return nil }

// rest is what has not been read of the body.
func (p *prereadBody) rest() []byte { return p.whole[len(p.whole)-p.Len():] }

func (t *httpTransport) readBatch(body []byte) ([]*rawRequest, bool, *reqError) {
	var items []json.RawMessage
	if err := decodeJSON(body, &items); err != nil {
		return nil, true, malformed("the request body is not valid JSON")
	}
	switch {
	case len(items) == 0:
		return nil, true, malformed("the batch is empty")
	case !t.opts.Batching:
		return nil, true, batchRefusal(len(items), CodeBatchingDisabled, "this server does not accept batches (a JSON array of operations): send one operation per request")
	case len(items) > t.opts.MaxBatchSize:
		return nil, true, batchRefusal(len(items), CodeBatchTooLarge, fmt.Sprintf("a batch may hold at most %d operations", t.opts.MaxBatchSize))
	}
	out := make([]*rawRequest, len(items))
	for i, it := range items {
		q, rerr := readPOST(it)
		if rerr != nil {
			rerr.errs[0].Message = fmt.Sprintf("batch entry %d: %s", i, rerr.errs[0].Message)
			return nil, true, rerr
		}
		out[i] = q
	}
	return out, true, nil
}

// maxBatchRefusal bounds the copies batchRefusal answers with: clients batch
// a handful of operations, and a request of a million tiny entries must not
// earn a million error objects.
const maxBatchRefusal = 100

// batchRefusal refuses a whole batch of n operations. Batching clients
// (Apollo's BatchHttpLink and others) match answers to operations by
// position and reject an answer of another length, which would hide the
// code; so the answer is an array holding the refusal once per operation,
// or one object past maxBatchRefusal entries.
func batchRefusal(n int, code, msg string) *reqError {
	e := transportErr(http.StatusBadRequest, code, msg)
	if n <= maxBatchRefusal {
		e.batch = n
	}
	return e
}

// decodeJSON decodes exactly one JSON value, numbers as json.Number.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// readPOST reads the JSON encoding of a request: an object whose query is
// a string, operationName a string, variables and extensions objects,
// documentId a string, each optional or null. Unknown members are reserved by the specification and
// ignored.
func readPOST(body []byte) (*rawRequest, *reqError) {
	m, ok := postMembers(body)
	if !ok {
		return nil, malformed("the request body is not a valid JSON object")
	}
	q := &rawRequest{}
	str := func(raw []byte, into *string) bool {
		if raw == nil || string(raw) == "null" {
			return true
		}
		if s, ok := plainString(raw); ok {
			*into = s
			return true
		}
		return json.Unmarshal(raw, into) == nil
	}
	if !str(m[memberQuery], &q.query) {
		return nil, malformed("query must be a string")
	}
	q.hasQuery = q.query != ""
	if !str(m[memberOperationName], &q.operationName) {
		return nil, malformed("operationName must be a string")
	}
	if q.variables, ok = object(m[memberVariables]); !ok {
		return nil, malformed("variables must be a JSON object")
	}
	if q.extensions, ok = object(m[memberExtensions]); !ok {
		return nil, malformed("extensions must be a JSON object")
	}
	if raw := m[memberDocumentID]; raw != nil && string(raw) != "null" {
		if !str(raw, &q.documentID) {
			return nil, malformed("documentId must be a string")
		}
		q.hasDocumentID = true
	}
	return q, nil
}

// The members of a request object that mean something.
const (
	memberQuery = iota
	memberOperationName
	memberVariables
	memberExtensions
	memberDocumentID
	members
)

// postMembers returns the raw values of the members of body, a JSON
// object, that name a request parameter (nil when absent), or ok false
// when body is not one JSON object (white space aside). A member given
// twice is its last value, as when decoding into a map; names are
// compared unescaped. The values are body's own bytes: decoding the body
// into a map of raw messages copied each and built the map, to look at
// five names.
func postMembers(body []byte) (m [members][]byte, ok bool) {
	if !json.Valid(body) {
		return m, false
	}
	// body is valid JSON from here on: the walk needs no checks.
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return m, false
	}
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		keyStart, keyEnd := i, skipValue(body, i)
		key := body[keyStart+1 : keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			_ = json.Unmarshal(body[keyStart:keyEnd], &k) // a valid string: cannot fail
			key = []byte(k)
		}
		i = skipSpace(body, skipSpace(body, keyEnd)+1) // past the colon
		valueEnd := skipValue(body, i)
		slot := -1
		switch string(key) {
		case "query":
			slot = memberQuery
		case "operationName":
			slot = memberOperationName
		case "variables":
			slot = memberVariables
		case "extensions":
			slot = memberExtensions
		case "documentId":
			slot = memberDocumentID
		}
		if slot >= 0 {
			m[slot] = body[i:valueEnd]
		}
		i = skipSpace(body, valueEnd)
	}
	return m, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value at b[i], valid JSON.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		return i + 1
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
		i++
	}
	return i
}

// plainString is the value of raw, valid JSON, when it is a string with no
// escapes in valid UTF-8, which is what a query usually is: json.Unmarshal
// would give the same string through a decoder of its own.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') >= 0 || !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// object decodes an optional JSON object.
func object(raw []byte) (map[string]any, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	if raw[0] != '{' {
		return nil, false
	}
	var m map[string]any
	if err := decodeJSON(raw, &m); err != nil {
		return nil, false
	}
	return m, true
}

// readGET reads the URL-query encoding of a request; variables and
// extensions are JSON text. A parameter given twice is ambiguous.
func readGET(rawQuery string) (*rawRequest, *reqError) {
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, malformed("the URL query is not valid application/x-www-form-urlencoded")
	}
	for _, k := range getParams {
		if len(vals[k]) > 1 {
			return nil, malformed(k + " appears more than once in the URL")
		}
	}
	q := &rawRequest{query: vals.Get("query"), operationName: vals.Get("operationName")}
	q.hasQuery = q.query != ""
	var ok bool
	if q.variables, ok = object([]byte(vals.Get("variables"))); !ok {
		return nil, malformed("variables must be a JSON object")
	}
	if q.extensions, ok = object([]byte(vals.Get("extensions"))); !ok {
		return nil, malformed("extensions must be a JSON object")
	}
	if v, ok := vals["documentId"]; ok {
		q.documentID, q.hasDocumentID = v[0], true
	}
	return q, nil
}

// getParams are the URL-query parameters of a GET request.
var getParams = []string{"query", "operationName", "variables", "extensions", "documentId"}
