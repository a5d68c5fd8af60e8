package restclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Every error below names the endpoint template (for metrics and for the
// facade's extensions) and the concrete path, never the host, the query or a
// header: the messages end up in logs and, partly, in GraphQL responses.

// ErrInvalidArgument is matched (errors.Is) by every *ArgumentError, for
// callers that only need to know the fault was theirs and no call was made.
var ErrInvalidArgument = errors.New("restclient: invalid argument")

// ArgumentError reports an argument refused before any HTTP call, so that a
// caller's bug never reaches the upstream as a request it would reject.
type ArgumentError struct {
	Endpoint string // endpoint template
	Name     string // the argument, e.g. "userID" or "page"
	Value    int64
}

// Error names the endpoint and the refused value.
func (e *ArgumentError) Error() string {
	return "restclient: " + e.Endpoint + ": " + e.Name + " must be a positive integer, got " + strconv.FormatInt(e.Value, 10)
}

// Unwrap makes errors.Is(err, ErrInvalidArgument) hold.
func (e *ArgumentError) Unwrap() error { return ErrInvalidArgument }

// APIError is an answer the upstream gave and that is an error: an HTTP
// status outside 2xx, or an HTTP 200 whose envelope carries an error status
// (the API reports some failures only inside the body).
type APIError struct {
	HTTPStatus  int    // the HTTP status code
	Status      int    // the envelope's "status"; 0 when absent or not a status code
	Description string // the envelope's "description", cleaned and with credentials redacted; "" when none
	Endpoint    string // endpoint template, e.g. EndpointUserMeetings
	Path        string // the path asked for, without host or query
	// RetryAfter is the upstream's Retry-After (seconds or HTTP-date) on a
	// 429 or 503; 0 when it sent none.
	RetryAfter time.Duration
}

// Error gives the effective status and the upstream's description, quoted,
// so that a log line shows what the upstream said; no host, no headers.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("restclient: ")
	b.WriteString(e.Path)
	b.WriteString(": upstream answered ")
	code := e.Code()
	b.WriteString(strconv.Itoa(code))
	if t := http.StatusText(code); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if code != e.HTTPStatus {
		b.WriteString(" (in an HTTP " + strconv.Itoa(e.HTTPStatus) + " response)")
	}
	if e.RetryAfter > 0 {
		b.WriteString(", retry after " + e.RetryAfter.String())
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(strconv.Quote(e.Description))
	}
	return b.String()
}

// Code is the status that decides what the error means: the envelope's
// status when it is an error status, else the HTTP status. A 403 inside an
// HTTP 200 is thus a 403.
func (e *APIError) Code() int {
	if e.Status != 0 && !is2xx(e.Status) {
		return e.Status
	}
	return e.HTTPStatus
}

// IsForbidden reports an upstream 403, which is how this API answers a
// missing or wrong credential.
func IsForbidden(err error) bool { return Classify(err).Kind == KindForbidden }

// IsBadRequest reports an upstream 400 ("Nieprawidłowe parametry").
func IsBadRequest(err error) bool { return Classify(err).Kind == KindBadRequest }

// IsRateLimited reports an upstream 429; APIError.RetryAfter says how long
// the upstream asked to wait.
func IsRateLimited(err error) bool { return Classify(err).Kind == KindRateLimited }

// IsServerError reports an upstream 5xx: the request may succeed later.
func IsServerError(err error) bool { return Classify(err).Kind == KindServerError }

// TransportError is a call that got no answer, or only part of one:
// connection refused or reset, the connection closed before the response
// headers or before the end of the body, a failed name lookup or TLS
// handshake, a timeout, a cancellation. Its message describes the cause
// without the host; Unwrap gives the cause itself (whose own message may
// name the host).
type TransportError struct {
	Endpoint string // endpoint template
	Path     string // the path asked for, without host or query
	Err      error  // the cause
}

// Error describes the cause in host-free terms (see the type's doc).
func (e *TransportError) Error() string {
	var cut *cutShortError
	if errors.As(e.Err, &cut) {
		return "restclient: " + e.Path + ": answer cut short: " + describe(cut.cause)
	}
	return "restclient: " + e.Path + ": no answer from upstream: " + describe(e.Err)
}

// cutShortError is the cause in the *TransportError of an answer whose body
// stopped before its end: the connection closed or reset mid-body.
type cutShortError struct{ cause error }

func (e *cutShortError) Error() string { return "body cut short: " + describe(e.cause) }
func (e *cutShortError) Unwrap() error { return e.cause }

// Unwrap exposes the cause to errors.Is and errors.As: ErrTimeout,
// context.Canceled, syscall.ECONNREFUSED and the like.
func (e *TransportError) Unwrap() error { return e.Err }

// ErrTimeout is matched (errors.Is) by a call that ran out of time, whether
// the client's own per-call timeout (WithTimeout) or the caller's context
// deadline. Such errors match context.DeadlineExceeded too.
var ErrTimeout = errors.New("restclient: upstream call timed out")

// timeoutError is the cause in a timed-out call's *TransportError.
type timeoutError struct {
	after time.Duration // the per-call timeout; 0 when another deadline expired
	cause error
}

func (e *timeoutError) Error() string {
	switch {
	case e.after > 0:
		return "timed out after " + e.after.String()
	case e.cause == nil || e.cause == context.DeadlineExceeded:
		return "deadline exceeded"
	}
	return describe(e.cause) // e.g. the transport's response header timeout
}

// Is lets callers test for either name of the same event.
func (e *timeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

func (e *timeoutError) Unwrap() error { return e.cause }

// Timeout lets code written against net.Error recognise it.
func (e *timeoutError) Timeout() bool { return true }

// ErrResponseTooLarge is matched (errors.Is) by a response whose body
// exceeds WithMaxResponseBytes; the rest of it is not read.
var ErrResponseTooLarge = errors.New("restclient: response too large")

// DecodeError is an answer that arrived whole and could not be read:
// malformed or incomplete JSON, an HTML page instead of JSON, a body over
// the size limit, or a success envelope without the data the endpoint
// needs. A body the connection cut short is a *TransportError.
type DecodeError struct {
	Endpoint    string // endpoint template
	Path        string // the path asked for, without host or query
	HTTPStatus  int
	ContentType string // media type the upstream declared, for telling HTML from broken JSON
	// Excerpt is the start of the body, for logs: at most 120 bytes of
	// valid UTF-8, control characters replaced, credentials redacted.
	Excerpt string
	Err     error // what was wrong
}

// Error leaves the excerpt out: it is for logs that choose to show it.
func (e *DecodeError) Error() string {
	s := "restclient: " + e.Path + ": unreadable response (HTTP " + strconv.Itoa(e.HTTPStatus)
	if e.ContentType != "" {
		s += ", " + e.ContentType
	}
	return s + "): " + e.Err.Error()
}

// Unwrap exposes the cause, e.g. for errors.Is(err, ErrResponseTooLarge).
func (e *DecodeError) Unwrap() error { return e.Err }

// PaginationError is a paginated answer that cannot be followed: more pages
// than WithMaxPages allows, or pagination that contradicts itself (a page
// other than the one asked for, negative values, counts that change between
// pages or do not add up).
type PaginationError struct {
	Endpoint string // endpoint template
	Path     string // the path asked for, without host or query
	Reason   string // what was wrong, for people
}

// Error names the path and the reason.
func (e *PaginationError) Error() string {
	return "restclient: " + e.Path + ": unusable pagination: " + e.Reason
}

// describe names a transport failure without naming the host: the messages
// of net's errors carry addresses, so only known causes are spelt out.
func describe(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		alert   tls.AlertError
		record  tls.RecordHeaderError
		netErr  net.Error
	)
	switch {
	case err == nil:
		return "unknown error"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrTimeout):
		return err.Error()
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "host name not found"
		}
		return "host name lookup failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return "connection aborted"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the response was complete"
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &alert), errors.As(err, &record):
		return "TLS handshake failed"
	case strings.HasPrefix(err.Error(), "net/http: invalid header"):
		return err.Error() // names the header, never its value
	case strings.HasPrefix(err.Error(), "net/http: "):
		// net/http's own messages carry no address, but some quote what
		// the upstream sent (a malformed status line), which stays out.
		msg, _, _ := strings.Cut(err.Error(), `"`)
		return strings.TrimRight(msg, " :")
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	}
	return "request failed"
}

// hostFreeError carries a cause whose message may name the host behind a
// message that does not.
type hostFreeError struct{ cause error }

func (e *hostFreeError) Error() string { return describe(e.cause) }
func (e *hostFreeError) Unwrap() error { return e.cause }

// minSecret is the shortest header value redact removes: shorter values
// are no credentials, and removing them would mangle ordinary text (a
// forwarded "X-Tenant: 7" would blank every 7).
const minSecret = 4

// redact removes credential values from text the upstream sent, in case it
// echoes request headers back (debug pages, some proxies).
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= minSecret && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

// cleanText makes upstream text safe to log: invalid UTF-8 dropped, control
// and format characters (newlines, bidi overrides) turned into spaces, runs
// of spaces collapsed, leading and trailing ones trimmed.
func cleanText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := true // drop leading spaces
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r):
			if space {
				continue
			}
			space = true
			r = ' '
		default:
			space = false
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

// cutText cuts s to at most max bytes on a rune boundary, marking the cut.
func cutText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "…"
	s = s[:max-len(mark)]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.TrimRight(s, " ") + mark
}

// unwrapURLError is the cause net/http's *url.Error wraps: the wrapper
// repeats the URL, which may carry a password and names the path.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
