package restclient

import (
	"bytes"
	"errors"
	"strings"
	"time"
)

// Decoding is tolerant by design (docs/upstream-api.md): the documentation
// quotes every type, so each value is read from whatever JSON type it comes
// in (numbers as numeric strings, a decimal comma), and null, "" and the
// documented spellings of "no date" mean absent. A value that is there but
// cannot be read as its field's type leaves the field at its zero value and
// is named in the record's Problems, instead of failing the record or, worse,
// passing the zero value off as data. Only a body that is not JSON, or whose
// envelope lacks the parts an endpoint needs, is an error.

// Shape errors, wrapped in *DecodeError by the request path.
var (
	errNotEnvelope = errors.New("response is not a JSON object")
	errNoData      = errors.New(`response has no "data"`)
	errDataShape   = errors.New(`"data" is not an object`)
	errListShape   = errors.New(`"list" is not an array`)
)

// envelope is the wrapper around every answer:
// {"status": 200, "data": ...} or {"status": 403, "description": "..."}.
type envelope struct {
	status      int    // 0 when absent or not an HTTP status code
	description string // unsanitised; the request path redacts and cleans it
	hasData     bool   // "data" present and not null
}

// walkEnvelope validates the whole body in one pass and reads the envelope.
// data, when not nil, decodes the "data" member in place (it must consume
// it) and its error is kept, unless it is a syntax error, which ends the
// walk: whether a shape error matters depends on the status, which may come
// after the data.
func walkEnvelope(body []byte, data func(*scanner) error) (env envelope, dataErr error, err error) {
	s := &scanner{buf: body}
	if s.peek() != '{' {
		if _, err := s.value(); err != nil {
			return env, nil, err
		}
		if err := s.end(); err != nil {
			return env, nil, err
		}
		return env, nil, errNotEnvelope
	}
	if err := s.enter(); err != nil {
		return env, nil, err
	}
	var message, errText string
	for first := true; ; first = false {
		key, ok, err := s.nextMember(first)
		if err != nil {
			return env, nil, err
		}
		if !ok {
			break
		}
		name := plainKey(key)
		if string(name) == "data" && s.peek() != 'n' && data != nil {
			// A repeated key replaces the earlier one, as in encoding/json.
			env.hasData = true
			if dataErr = data(s); dataErr != nil {
				var se *syntaxError
				if errors.As(dataErr, &se) {
					return env, nil, dataErr
				}
			}
			continue
		}
		v, err := s.value()
		if err != nil {
			return env, nil, err
		}
		switch string(name) {
		case "status":
			env.status = 0
			if n, ok := intValue(v); ok && n >= 100 && n <= 599 {
				env.status = int(n)
			}
		case "description":
			env.description = descriptionText(v)
		case "message":
			message = descriptionText(v)
		case "error":
			if v[0] == '"' {
				errText = unquote(v)
			}
		case "data":
			env.hasData, dataErr = v[0] != 'n', nil
		}
	}
	if err := s.end(); err != nil {
		return env, nil, err
	}
	// Not documented, but common in APIs of this style; only a fallback.
	if strings.TrimSpace(env.description) == "" {
		env.description = message
	}
	if strings.TrimSpace(env.description) == "" {
		env.description = errText
	}
	return env, dataErr, nil
}

// parseEnvelope reads the envelope of an error answer.
func parseEnvelope(body []byte) (envelope, error) {
	env, _, err := walkEnvelope(body, nil)
	return env, err
}

// descriptionText is a description's text; a structured description (an
// object of messages, say) is kept as its JSON text rather than lost.
func descriptionText(v []byte) string {
	switch v[0] {
	case '"':
		return unquote(v)
	case 'n':
		return ""
	}
	return string(v)
}

func is2xx(code int) bool { return code >= 200 && code <= 299 }

// decodeSuccess reads the body of a 2xx answer, data decoding the "data"
// member. An envelope whose own status is an error comes back as an
// *APIError that the caller completes with the endpoint and HTTP details.
func decodeSuccess(body []byte, data func(*scanner) error) error {
	env, dataErr, err := walkEnvelope(body, data)
	switch {
	case err != nil:
		return err
	case env.status != 0 && !is2xx(env.status):
		return &APIError{Status: env.status, Description: env.description}
	case !env.hasData:
		return errNoData
	}
	return dataErr
}

// decodeList decodes the data value at the scanner: its "list", one record
// at a time so that a bad record costs only itself, and the bytes of its
// "pagination". An element that is not an object is skipped; decode fails
// only on JSON syntax. On a shape error the value is still consumed.
//
// Accepted shapes, beyond the documented {"list": [...]}: list null or
// missing (no records); list as an object (PHP's encoding of an array with
// gaps in its keys), its values in document order; data as a bare array (the
// list itself, or PHP's [] for an empty object).
func decodeList[T any](s *scanner, loc *time.Location, decode func(*scanner, *time.Location, *T) error) (list []T, pagination []byte, err error) {
	switch s.peek() {
	case '[':
		list, err = decodeElements(s, loc, list, decode)
		return list, nil, err
	case '{':
	default:
		if _, err := s.value(); err != nil {
			return nil, nil, err
		}
		return nil, nil, errDataShape
	}
	if err := s.enter(); err != nil {
		return nil, nil, err
	}
	var shapeErr error
	for first := true; ; first = false {
		key, ok, err := s.nextMember(first)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			break
		}
		switch string(plainKey(key)) {
		case "list":
			// A repeated key replaces the earlier one.
			list, err = decodeElements(s, loc, list[:0], decode)
			shapeErr = err
			if err != nil && err != errListShape {
				return nil, nil, err
			}
		case "pagination":
			if pagination, err = s.value(); err != nil {
				return nil, nil, err
			}
		default:
			if _, err := s.value(); err != nil {
				return nil, nil, err
			}
		}
	}
	return list, pagination, shapeErr
}

// minRecordBytes and maxPresized bound decodeElements' first allocation.
const (
	minRecordBytes = 400
	maxPresized    = 1024
)

// decodeElements appends the records of the list value at the scanner.
func decodeElements[T any](s *scanner, loc *time.Location, list []T, decode func(*scanner, *time.Location, *T) error) ([]T, error) {
	if cap(list) == 0 {
		// Sized from what is left of the body, instead of doubling from one:
		// records of this API are a few hundred bytes each, so this is about
		// the list's length, and a 40-meeting list is one allocation, not
		// seven that add up to three times its size.
		list = make([]T, 0, min(max((len(s.buf)-s.off)/minRecordBytes, 1), maxPresized))
	}
	record := func() error {
		if s.peek() != '{' {
			_, err := s.value() // not a record: skipped
			return err
		}
		var zero T
		list = append(list, zero)
		return decode(s, loc, &list[len(list)-1])
	}
	switch s.peek() {
	case '[':
		if list == nil {
			// A guess that saves most of append's regrowth: records of
			// this API run to a few hundred bytes.
			list = make([]T, 0, (len(s.buf)-s.off)/400+1)
		}
		if err := s.enter(); err != nil {
			return nil, err
		}
		for first := true; ; first = false {
			ok, err := s.nextElement(first)
			if err != nil {
				return nil, err
			}
			if !ok {
				return list, nil
			}
			if err := record(); err != nil {
				return nil, err
			}
		}
	case '{':
		if err := s.enter(); err != nil {
			return nil, err
		}
		for first := true; ; first = false {
			_, ok, err := s.nextMember(first)
			if err != nil {
				return nil, err
			}
			if !ok {
				return list, nil
			}
			if err := record(); err != nil {
				return nil, err
			}
		}
	default:
		v, err := s.value()
		if err != nil {
			return nil, err
		}
		if v[0] == 'n' {
			return list, nil
		}
		return nil, errListShape
	}
}

// plainKey returns an object key's text, unescaping only when it has to.
func plainKey(key []byte) []byte {
	if bytes.IndexByte(key, '\\') < 0 {
		return key
	}
	return []byte(unquoteBody(key))
}
