package fakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path"
	"slices"
	"strconv"
	"time"
)

// FaultKind is a way for the upstream to fail.
type FaultKind int

// The kinds of fault. Unless a kind says otherwise, its answer has status
// 200, because that is what makes these failures hard for a client: only the
// body shows that something is wrong.
const (
	// FaultStatus answers Fault.Status (default 500) with the documented
	// error envelope and a Polish description, e.g.
	// {"status":503,"description":"Usługa chwilowo niedostępna"}.
	FaultStatus FaultKind = iota + 1
	// FaultRateLimit answers 429 with the error envelope and, if
	// Fault.RetryAfter is set, a Retry-After header holding it verbatim.
	FaultRateLimit
	// FaultDelay waits Fault.Delay (or until the client gives up), then
	// answers normally.
	FaultDelay
	// FaultMalformedJSON answers a complete body that is not valid JSON.
	FaultMalformedJSON
	// FaultTruncated announces the full normal answer's Content-Length,
	// sends half of it and closes the connection.
	FaultTruncated
	// FaultDropConnection closes the connection without answering. Go's
	// http.Transport retries an idempotent request once when a reused
	// connection closes this way, so such a request may be counted twice.
	FaultDropConnection
	// FaultErrorEnvelope answers HTTP 200 with an error envelope for
	// Fault.Status (default 403), as APIs that report errors only in the
	// body do.
	FaultErrorEnvelope
	// FaultWrongContentType answers an HTML page, as a proxy's maintenance
	// page would.
	FaultWrongContentType
	// FaultNumbersAsStrings answers normally, but with every JSON number,
	// ids and pagination included, sent as a string ("id":"1042").
	FaultNumbersAsStrings
	// FaultEmptyBody answers an empty body.
	FaultEmptyBody
	// FaultResetMidBody is FaultTruncated with a TCP reset instead of an
	// orderly close, as a crashing upstream or a load balancer's idle
	// timeout does: the client's read fails with "connection reset".
	FaultResetMidBody
	// FaultLargeBody answers the normal answer grown to Fault.Size bytes by
	// a "padding" member of the envelope, a long string the documentation
	// does not name (so a client skips it, after reading it):
	// {"status":200,"padding":"    …","data":…}. With Fault.Chunked it is
	// sent without a Content-Length, in 32 KiB chunks. With Fault.Field,
	// the answer grows instead by lengthening that string member of every
	// record in its list by the same number of x's (a record without it, or
	// with another type, gets a string of x's): a large answer a client
	// decodes into its records and serves, rather than skips. An answer
	// with no records is padded as without Field.
	FaultLargeBody
	// FaultFieldValue answers normally, but with the value of Fault.Field
	// in record Fault.Record (0-based, in the order of the answer's list)
	// replaced by Fault.Value, raw JSON such as `"x"`: a value the
	// documented type does not allow, in one field of one record. A record
	// without the field gets it; an answer with fewer records is unchanged.
	FaultFieldValue
)

// lastFault is the highest kind Inject accepts.
const lastFault = FaultFieldValue

var faultNames = [...]string{
	FaultStatus:           "FaultStatus",
	FaultRateLimit:        "FaultRateLimit",
	FaultDelay:            "FaultDelay",
	FaultMalformedJSON:    "FaultMalformedJSON",
	FaultTruncated:        "FaultTruncated",
	FaultDropConnection:   "FaultDropConnection",
	FaultErrorEnvelope:    "FaultErrorEnvelope",
	FaultWrongContentType: "FaultWrongContentType",
	FaultNumbersAsStrings: "FaultNumbersAsStrings",
	FaultEmptyBody:        "FaultEmptyBody",
	FaultResetMidBody:     "FaultResetMidBody",
	FaultLargeBody:        "FaultLargeBody",
	FaultFieldValue:       "FaultFieldValue",
}

// String returns the kind's Go name, for test names and messages.
func (k FaultKind) String() string {
	if k > 0 && int(k) < len(faultNames) {
		return faultNames[k]
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// A Fault makes matching requests fail. Faults apply before the credential
// and parameter checks, so any request can be made to fail, and the
// requests they affect are counted and logged like any other.
type Fault struct {
	// Path is a path.Match pattern for the request path, such as
	// "/api/v1/users/*/threads"; "" matches every path.
	Path string
	// Credential limits the fault to requests carrying exactly this
	// credential; "" matches any.
	Credential string
	Kind       FaultKind
	// Status is the status reported by FaultStatus and FaultErrorEnvelope.
	Status int
	// RetryAfter is FaultRateLimit's Retry-After header, e.g. "2" or an
	// HTTP date; "" sends none.
	RetryAfter string
	// Delay is FaultDelay's wait.
	Delay time.Duration
	// Size is FaultLargeBody's body size in bytes; a size below the
	// normal answer's plus the padding member's own keys sends the normal
	// answer with an empty padding.
	Size int
	// Chunked makes FaultLargeBody send no Content-Length.
	Chunked bool
	// MidBody, when not nil, makes FaultLargeBody send its first 32 KiB
	// and then wait until MidBody is closed (or its client goes away, or
	// the server closes) before the rest: a gate in the middle of a body,
	// so that a test knows a client is reading one.
	MidBody <-chan struct{}
	// Record, Field and Value are FaultFieldValue's record index, key and
	// raw JSON value; Field is also the member FaultLargeBody grows.
	Record int
	Field  string
	Value  string
	// Times limits the fault to the first Times requests it affects; 0
	// means no limit.
	Times int
	// Rate, if not 0, makes the fault affect each matching request with
	// this probability (0 < Rate <= 1). The draws come from the server's
	// seed and the number of faults injected before this one, so a test
	// that repeats itself sees the same requests fail.
	Rate float64
}

type faultState struct {
	f    Fault
	used int
	rand *rand.Rand
}

// Inject adds a fault. When several faults match a request, the earliest
// injected one that elects to fire applies. Inject panics on a malformed
// fault; remove takes this fault away and may be called more than once.
func (s *Server) Inject(f Fault) (remove func()) {
	if f.Kind < FaultStatus || f.Kind > lastFault {
		panic(fmt.Sprintf("fakeapi: Inject: unknown kind %v", f.Kind))
	}
	if f.Rate < 0 || f.Rate > 1 || f.Times < 0 || f.Delay < 0 || f.Size < 0 {
		panic(fmt.Sprintf("fakeapi: Inject: Rate %v, Times %d, Delay %v or Size %d out of range", f.Rate, f.Times, f.Delay, f.Size))
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 999) {
		panic(fmt.Sprintf("fakeapi: Inject: status %d", f.Status))
	}
	if f.Path != "" {
		mustPattern(f.Path)
	}
	if f.Kind == FaultFieldValue && (f.Field == "" || f.Record < 0 || !json.Valid([]byte(f.Value))) {
		panic(fmt.Sprintf("fakeapi: Inject: FaultFieldValue needs a Field, a Record of 0 or more and a JSON Value, got %q, %d, %q", f.Field, f.Record, f.Value))
	}
	s.mu.Lock()
	s.faultSeq++
	fs := &faultState{f: f, rand: rand.New(rand.NewPCG(uint64(s.cfg.seed), s.faultSeq))}
	s.faults = append(s.faults, fs)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.faults = slices.DeleteFunc(s.faults, func(x *faultState) bool { return x == fs })
		s.mu.Unlock()
	}
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// fault picks the fault for a request, if any, and spends one of its Times.
func (s *Server) fault(p, cred string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fs := range s.faults {
		f := &fs.f
		if f.Credential != "" && f.Credential != cred {
			continue
		}
		if f.Path != "" {
			if ok, _ := path.Match(f.Path, p); !ok {
				continue
			}
		}
		if f.Times > 0 && fs.used >= f.Times {
			continue
		}
		if f.Rate > 0 && fs.rand.Float64() >= f.Rate {
			continue
		}
		fs.used++
		return *f, true
	}
	return Fault{}, false
}

const maintenancePage = "<html><head><title>Przerwa techniczna</title></head>" +
	"<body><h1>Przerwa techniczna</h1><p>Serwis będzie dostępny wkrótce.</p></body></html>"

// A body that starts like a real answer, so that only a real parser notices.
const malformedBody = `{"status":200,"data":{"list":[{"id":1042 "hash":"c4ca4238a0b923820dcc509a6f75849b"}]}}`

// fail answers r as f says and returns the status written, 0 if none.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, cred string, f Fault) int {
	switch f.Kind {
	case FaultStatus:
		code := orDefault(f.Status, http.StatusInternalServerError)
		return write(w, code, jsonType, errorBody(code))
	case FaultRateLimit:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		return write(w, http.StatusTooManyRequests, jsonType, errorBody(http.StatusTooManyRequests))
	case FaultDelay:
		if !s.sleep(r.Context(), f.Delay) {
			return 0
		}
		code, body := s.answer(r, cred)
		return write(w, code, jsonType, body)
	case FaultMalformedJSON:
		return write(w, http.StatusOK, jsonType, []byte(malformedBody))
	case FaultTruncated, FaultResetMidBody:
		_, body := s.answer(r, cred)
		h := w.Header()
		h.Set("Content-Type", jsonType)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		if f.Kind == FaultResetMidBody {
			reset(rc)
		} else {
			hangUp(rc)
		}
		return http.StatusOK
	case FaultDropConnection:
		hangUp(http.NewResponseController(w))
		return 0
	case FaultErrorEnvelope:
		return write(w, http.StatusOK, jsonType, errorBody(orDefault(f.Status, http.StatusForbidden)))
	case FaultWrongContentType:
		return write(w, http.StatusOK, "text/html; charset=utf-8", []byte(maintenancePage))
	case FaultNumbersAsStrings:
		code, body := s.answer(r, cred)
		return write(w, code, jsonType, quoteNumbers(body))
	case FaultEmptyBody:
		return write(w, http.StatusOK, jsonType, nil)
	case FaultFieldValue:
		code, body := s.answer(r, cred)
		return write(w, code, jsonType, withFieldValue(body, f.Record, f.Field, f.Value))
	case FaultLargeBody:
		code, body := s.answer(r, cred)
		if f.Field == "" || !growField(&body, f.Field, f.Size) {
			body = pad(body, f.Size)
		}
		if !f.Chunked && f.MidBody == nil {
			return write(w, code, jsonType, body)
		}
		w.Header().Set("Content-Type", jsonType)
		if !f.Chunked {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(code)
		rc := http.NewResponseController(w)
		for first := true; len(body) > 0; first = false {
			if !first && f.MidBody != nil && !s.wait(r.Context(), f.MidBody) {
				return code
			}
			n := min(len(body), 32<<10)
			if _, err := w.Write(body[:n]); err != nil {
				break // the client stopped reading
			}
			_ = rc.Flush() // without a Content-Length, each flush is a chunk
			body = body[n:]
		}
		return code
	}
	panic(fmt.Sprintf("fakeapi: fault kind %v has no answer", f.Kind))
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// hangUp closes the connection under the response. Where the connection
// cannot be taken over (HTTP/2, a ResponseRecorder), it aborts the handler,
// which net/http answers by resetting the stream or closing the connection.
func hangUp(rc *http.ResponseController) {
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// reset is hangUp with a TCP RST: with SO_LINGER at 0, closing a socket
// discards what is unsent and resets the connection.
func reset(rc *http.ResponseController) {
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// pad grows a JSON envelope to size bytes with a "padding" member of spaces
// right after its opening brace.
func pad(body []byte, size int) []byte {
	const key = `"padding":"",`
	n := max(0, size-len(body)-len(key))
	out := make([]byte, 0, len(body)+len(key)+n)
	out = append(out, '{')
	out = append(out, key[:len(key)-2]...)
	out = append(out, bytes.Repeat([]byte{' '}, n)...)
	out = append(out, '"', ',')
	return append(out, body[1:]...)
}

// growField grows *body to size bytes by lengthening field, a string
// member of every record of data.list, by the same number of x's, the
// remainder going to the first records. It reports false, leaving *body
// alone, when there is no record to grow.
func growField(body *[]byte, field string, size int) bool {
	// Every record's field made a string, ended by a NUL byte where the
	// x's go: a NUL is never part of a JSON document, so it cannot be
	// anything else.
	marked, ok := editList(*body, func(recs []json.RawMessage) {
		for i, r := range recs {
			recs[i] = editMember(r, field, true, func(v json.RawMessage) json.RawMessage {
				if len(v) == 0 || v[0] != '"' {
					v = json.RawMessage(`""`)
				}
				return append(v[:len(v)-1:len(v)-1], 0, '"')
			})
		}
	})
	if !ok {
		return false
	}
	ends := bytes.Count(marked, []byte{0})
	extra := max(0, size-(len(marked)-ends))
	out := make([]byte, 0, len(marked)-ends+extra)
	for i, part := range bytes.Split(marked, []byte{0}) {
		out = append(out, part...)
		if i == ends {
			break
		}
		n := extra / ends
		if i < extra%ends {
			n++
		}
		for ; n > 0; n -= min(n, len(xs)) {
			out = append(out, xs[:min(n, len(xs))]...)
		}
	}
	*body = out
	return true
}

// xs are what growField grows a field with.
var xs = bytes.Repeat([]byte{'x'}, 64<<10)

// editList returns an answer with the records of data.list edited in
// place by edit, or false when the list holds none.
func editList(body []byte, edit func([]json.RawMessage)) ([]byte, bool) {
	edited := false
	out := editMember(body, "data", false, func(data json.RawMessage) json.RawMessage {
		return editMember(data, "list", false, func(list json.RawMessage) json.RawMessage {
			var recs []json.RawMessage
			if json.Unmarshal(list, &recs) != nil || len(recs) == 0 {
				return list
			}
			edit(recs)
			edited = true
			return joinArray(recs)
		})
	})
	return out, edited
}

// joinArray writes values as a JSON array.
func joinArray(values []json.RawMessage) json.RawMessage {
	n := 2
	for _, v := range values {
		n += len(v) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, v := range values {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, v...)
	}
	return append(out, ']')
}

// withFieldValue returns an answer with data.list[record][field] set to
// value, every other byte as it was.
func withFieldValue(body []byte, record int, field, value string) []byte {
	return editMember(body, "data", false, func(data json.RawMessage) json.RawMessage {
		return editMember(data, "list", false, func(list json.RawMessage) json.RawMessage {
			var recs []json.RawMessage
			if json.Unmarshal(list, &recs) != nil || record >= len(recs) {
				return list
			}
			recs[record] = editMember(recs[record], field, true, func(json.RawMessage) json.RawMessage { return json.RawMessage(value) })
			out := []byte{'['}
			for i, r := range recs {
				if i > 0 {
					out = append(out, ',')
				}
				out = append(out, r...)
			}
			return append(out, ']')
		})
	})
}

// editMember returns the JSON object obj with member key's value replaced
// by what edit makes of it, keeping the members' order and bytes; a missing
// member is added at the end when add says so, edit given nil. Anything but
// an object is returned as it is.
func editMember(obj []byte, key string, add bool, edit func(json.RawMessage) json.RawMessage) []byte {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return obj
	}
	out := []byte{'{'}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return obj
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return obj
		}
		k, _ := tok.(string)
		if k == key {
			v, found = edit(v), true
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(appendString(out, k), ':')
		out = append(out, v...)
	}
	if !found && add {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(appendString(out, key), ':')
		out = append(out, edit(nil)...)
	}
	return append(out, '}')
}
