package gqlhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Encoding: a GraphQL response as sent, with the error cap, the masking
// of the request's values and the response-size caps applied while it is
// written; and the refusals that replace a response or a whole request.

// result is one operation's encoded response: head, data and tail, written
// one after the other so that gqlgen's data, the bulk of it, is never
// copied.
type result struct {
	status   int
	allow    string
	head     []byte
	data     []byte
	tail     []byte
	streamed bool // written already, as multipart/mixed
}

func (r result) size() int { return len(r.head) + len(r.data) + len(r.tail) }

func (r result) parts() [][]byte { return [][]byte{r.head, r.data, r.tail} }

// wireResponse is a GraphQL response as sent: errors first, and no data
// member at all for a request error, as the specification requires.
type wireResponse struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

// defaultCodes gives every error a code: INTERNAL_SERVER_ERROR for any
// that has none.
func defaultCodes(errs gqlerror.List) {
	for _, e := range errs {
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		if c, _ := e.Extensions["code"].(string); c == "" {
			e.Extensions["code"] = CodeInternal
		}
	}
}

// encode applies the response caps and masking and encodes resp, operation
// index of the request. requestError says the response has no data. doc is
// the operation's document, when it parsed, for the masking of its literal
// values. Encoding stops at the first part that would take the response past
// what meter allows; gqlgen's data is measured, never copied.
func (t *httpTransport) encode(ctx context.Context, index int, resp *graphql.Response, requestError bool, ex *exchange, q *rawRequest, doc *ast.QueryDocument, meter *responseMeter) result {
	if f := t.opts.test.encoded; f != nil {
		f(len(resp.Data))
	}
	if meter.failed() != meterOK {
		return t.refusal(ctx, index, ex.media, meter.refusal())
	}
	errs := resp.Errors
	defaultCodes(errs)
	if len(errs) > t.opts.MaxErrors {
		keep := t.opts.MaxErrors - 1
		summary := &gqlerror.Error{
			Message:    fmt.Sprintf("%d more errors were left out; this response shows the first %d", len(errs)-keep, keep),
			Extensions: map[string]any{"code": CodeTooManyErrors},
		}
		t.srv.added(ctx, index, gqlerror.List{summary})
		errs = append(errs[:keep:keep], summary)
	}
	if len(errs) > 0 {
		ex.redMu.Lock()
		red := ex.redactor()
		red.addRequest(q, doc)
		for _, e := range errs {
			red.scrubError(e)
			e.Message = clip(e.Message)
		}
		ex.redMu.Unlock()
	}

	head := &limitedBuffer{max: meter.remaining()}
	var data, tail []byte
	err := func() error {
		_ = head.WriteByte('{')
		if len(errs) > 0 {
			if _, err := head.WriteString(`"errors":[`); err != nil {
				return err
			}
			for i, e := range errs {
				b, err := json.Marshal(e)
				if err != nil {
					return err
				}
				if i > 0 {
					if err := head.WriteByte(','); err != nil {
						return err
					}
				}
				if _, err := head.Write(b); err != nil {
					return err
				}
			}
			if err := head.WriteByte(']'); err != nil {
				return err
			}
		}
		if !requestError {
			if len(errs) > 0 {
				_ = head.WriteByte(',')
			}
			if _, err := head.WriteString(`"data":`); err != nil {
				return err
			}
			data = resp.Data
			if len(data) == 0 {
				data = []byte("null")
			}
			if head.Len()+len(data) > head.max {
				return errLimit
			}
			if !t.opts.CompactData && looseWhitespace(data) {
				// Raw JSON a resolver passed through (from an upstream) may be indented;
				// the response is compact, as json.Marshal would make it.
				var c bytes.Buffer
				if err := json.Compact(&c, data); err != nil {
					return err
				}
				data = c.Bytes()
			}
		}
		tail = []byte("}")
		if len(resp.Extensions) > 0 {
			b, err := json.Marshal(resp.Extensions)
			if err != nil {
				return err
			}
			sep := `,"extensions":`
			if head.Len() == 1 && data == nil {
				sep = sep[1:] // nothing before it
			}
			tail = append(append([]byte(sep), b...), '}')
		}
		return nil
	}()
	switch {
	case errors.Is(err, errLimit) || (err == nil && !meter.fits(head.Len()+len(data)+len(tail))):
		return t.refusal(ctx, index, ex.media, meter.refusal()) // too large, unless the budget was what failed
	case err != nil:
		t.srv.logger().ErrorContext(ctx, "response encoding failed", "requestId", requestIDOf(ctx), "error", err.Error())
		return t.refusal(ctx, index, ex.media, refusalText{CodeInternal, "internal error"})
	}
	meter.sent(head.Len() + len(data) + len(tail))
	status := http.StatusOK
	if requestError && ex.media == mediaGraphQLResponse {
		status = statusFor(errs)
	}
	return result{status: status, head: head.Bytes(), data: data, tail: tail}
}

// looseWhitespace reports whether data, valid JSON, has white space outside
// its strings.
func looseWhitespace(data []byte) bool {
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ', c == '\t', c == '\n', c == '\r':
			return true
		}
	}
	return false
}

// maxMessage bounds one error message: validation messages quote names
// from the document, and a name can be a megabyte long.
const maxMessage = 500

// clip shortens s to at most maxMessage bytes, at a character boundary.
func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// refusal is the response that replaces operation index's: a request error
// with this code, recorded as what the operation answered.
func (t *httpTransport) refusal(ctx context.Context, index int, media string, why refusalText) result {
	code := why.code
	e := &gqlerror.Error{Message: why.msg, Extensions: map[string]any{"code": code}}
	if code == CodeResponseTooLarge {
		e.Extensions["limit"] = t.opts.MaxResponseBytes
	}
	errs := gqlerror.List{e}
	t.srv.replaced(ctx, index, errs)
	body, _ := json.Marshal(wireResponse{Errors: errs})
	status := http.StatusOK
	if media == mediaGraphQLResponse {
		status = requestStatus[code]
	}
	return result{status: status, head: body}
}

// writeRefusal answers a request refused before any operation ran. Its
// messages are constant text: nothing of the request is repeated. The
// OnRefused hook is told first, so that what it adds to the errors (a
// request id) is sent.
func (t *httpTransport) writeRefusal(ctx context.Context, w http.ResponseWriter, media string, e *reqError) {
	t.srv.refused(ctx, e.errs)
	body, _ := json.Marshal(wireResponse{Errors: e.errs})
	if e.batch > 0 {
		body = append([]byte{'['}, bytes.Repeat(append(body, ','), e.batch)...)
		body[len(body)-1] = ']'
	}
	status := e.status
	if !e.always && media == mediaJSON {
		status = http.StatusOK
	}
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	t.setTiming(ctx, w.Header())
	writeBody(w, media, status, body)
}

func writeBody(w http.ResponseWriter, media string, status int, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	h := w.Header()
	if ct, ok := contentTypeOfMedia[media]; ok {
		h["Content-Type"] = ct
	} else {
		h.Set("Content-Type", media+"; charset=utf-8")
	}
	h["X-Content-Type-Options"] = noSniff
	h.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(status)
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return
		}
	}
}
