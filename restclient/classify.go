package restclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// This file is the one place that reads the client's error types. Classify
// turns any error of this package into a Class; the retry policy, the
// circuit breaker, the observer's CallInfo and every caller (metrics, the
// GraphQL error table) act on the Class, never on the types themselves.

// Kind is what went wrong with a call, in the few cases its callers treat
// differently.
type Kind uint8

// The kinds of failure. An answer's kind comes from APIError.Code, so a 403
// inside an HTTP 200 envelope is KindForbidden.
const (
	KindOK              Kind = iota // no error
	KindInvalidArgument             // refused before any call (*ArgumentError): the caller's bug
	KindBadRequest                  // the upstream answered 400
	KindForbidden                   // the upstream answered 403: a missing or wrong credential
	KindNotFound                    // the upstream answered 404
	KindRateLimited                 // the upstream answered 429
	KindServerError                 // the upstream answered 5xx
	KindHTTPError                   // the upstream answered another non-success status
	KindTimeout                     // the call's own timeout or the caller's deadline passed
	KindCanceled                    // the caller's context was cancelled
	KindUnreachable                 // no answer, or one cut short (*TransportError)
	KindBadResponse                 // an answer that arrived whole and cannot be read (*DecodeError)
	KindBadPagination               // a pagination that cannot be followed (*PaginationError)
	KindBadValue                    // one record's value that cannot be read (*FieldError)
	KindCircuitOpen                 // refused unsent by the circuit breaker (*CircuitOpenError)
	KindMemoryLimit                 // the memory budget for bodies had no room (*BodyBudgetError)
	KindLimited                     // refused unsent by the facade's own rate limit (*RateLimitError)
	KindPathEjected                 // refused unsent: the upstream kept failing this path for this caller (*PathEjectedError)
	KindUnknown                     // not an error of this package
)

var kindNames = [...]string{
	KindOK:              "ok",
	KindInvalidArgument: "invalid_argument",
	KindBadRequest:      "bad_request",
	KindForbidden:       "forbidden",
	KindNotFound:        "not_found",
	KindRateLimited:     "rate_limited",
	KindServerError:     "server_error",
	KindHTTPError:       "http_error",
	KindTimeout:         "timeout",
	KindCanceled:        "canceled",
	KindUnreachable:     "unreachable",
	KindBadResponse:     "bad_response",
	KindBadPagination:   "bad_pagination",
	KindBadValue:        "bad_value",
	KindCircuitOpen:     "circuit_open",
	KindMemoryLimit:     "memory_limit",
	KindLimited:         "limited",
	KindPathEjected:     "path_ejected",
	KindUnknown:         "unknown",
}

// String is the kind's name in snake case, for logs and test output.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// BreakerEffect is what an attempt's outcome tells the circuit breaker.
type BreakerEffect uint8

// The effects. Whatever the error, an attempt whose caller's context ended
// is not counted (the breaker asks the context itself).
const (
	BreakerIgnores BreakerEffect = iota // says nothing of the upstream's health: 429, a refused header, an oversized answer
	BreakerSuccess                      // the upstream is well, even if the request was wrong: 2xx, 400, 403, 404, a bad pagination
	BreakerFailure                      // the upstream is unwell: 5xx, a timeout, no answer, an unreadable answer
)

// Class is what a caller needs to know of a call's error, from Classify.
// Like the errors themselves it names no host and carries no header.
type Class struct {
	Kind     Kind
	Endpoint string // endpoint template; "" when the error names none
	Path     string // the path asked for, without host or query; "" when unknown
	// HTTPStatus is the answer's HTTP status; 0 when no answer came or the
	// error does not carry it.
	HTTPStatus int
	// Status is the status that decides what an answer means
	// (APIError.Code), the HTTP status of an unreadable answer; 0 otherwise.
	Status int
	// UpstreamStatus and Description are what the upstream's error
	// envelope said (APIError.Status, APIError.Description); 0 and "" when
	// it said nothing.
	UpstreamStatus int
	Description    string
	// Reason says what was wrong, for people: with a pagination
	// (KindBadPagination) or a value (KindBadValue, whose key on the wire is
	// Field).
	Reason string
	Field  string
	// RetryAfter is the wait the upstream asked for with a 429 or 503.
	RetryAfter time.Duration
	// Retryable says that sending the call again may succeed: a connection
	// that failed, 429, 502, 503, 504. Never a timeout (asking a slow
	// upstream again makes it slower), a cancellation, a refusal of the
	// breaker or any other answer. The retry policy also asks the context.
	Retryable bool
	Breaker   BreakerEffect
}

// Result is the class as a metrics label: ok, http_error (an error
// status), timeout, cancelled, unreachable (no answer), bad_response
// (unreadable, or pagination that contradicts itself), circuit_open,
// path_ejected, rate_limited (refused by the facade's own rate limit), or
// error for anything else (an invalid argument, the memory budget). The
// values are stable: dashboards and alerts use them.
func (c Class) Result() string {
	switch c.Kind {
	case KindOK:
		return "ok"
	case KindBadRequest, KindForbidden, KindNotFound, KindRateLimited, KindServerError, KindHTTPError:
		return "http_error"
	case KindTimeout:
		return "timeout"
	case KindCanceled:
		return "cancelled"
	case KindUnreachable:
		return "unreachable"
	case KindBadResponse, KindBadPagination, KindBadValue:
		return "bad_response"
	case KindCircuitOpen:
		return "circuit_open"
	case KindLimited:
		return "rate_limited"
	case KindPathEjected:
		return "path_ejected"
	}
	return "error"
}

// refusedUnsent says whether a call of kind never reached the upstream
// because the client itself refused it: the breaker, a path ejection or the
// rate limit.
func refusedUnsent(k Kind) bool {
	return k == KindCircuitOpen || k == KindPathEjected || k == KindLimited
}

// Classify says what err, returned by this package (or wrapping such an
// error), means. nil is KindOK; an error of no type of this package is
// KindTimeout or KindCanceled when it matches a context error, else
// KindUnknown.
func Classify(err error) Class {
	if err == nil {
		// Apart from classifyError: its errors.As targets escape to the
		// heap, and the observer classifies every attempt.
		return Class{Kind: KindOK, Breaker: BreakerSuccess}
	}
	return classifyError(err)
}

func classifyError(err error) Class {
	var (
		co  *CircuitOpenError
		pe  *PathEjectedError
		rl  *RateLimitError
		be  *BodyBudgetError
		api *APIError
		tr  *TransportError
		de  *DecodeError
		pg  *PaginationError
		fe  *FieldError
		ae  *ArgumentError
	)
	switch {
	case errors.As(err, &co):
		return Class{Kind: KindCircuitOpen, Endpoint: co.Endpoint, Path: co.Path}
	case errors.As(err, &pe):
		// What the upstream last said of the path, so that its callers
		// see it; nothing the breaker or the retry policy should count.
		last := Classify(pe.Last)
		return Class{
			Kind: KindPathEjected, Endpoint: pe.Endpoint, Path: pe.Path, RetryAfter: pe.RetryAfter,
			HTTPStatus: last.HTTPStatus, Status: last.Status, UpstreamStatus: last.UpstreamStatus, Description: last.Description,
		}
	case errors.As(err, &rl):
		// Our own limit: the upstream is not to blame, and asking again
		// at once would only be refused again.
		return Class{Kind: KindLimited, Endpoint: rl.Endpoint, Path: rl.Path, RetryAfter: rl.Wait}
	case errors.As(err, &be):
		// The budget is the client's own: neither the upstream's fault
		// nor a reason to ask again.
		return Class{Kind: KindMemoryLimit, Endpoint: be.Endpoint, Path: be.Path}
	case errors.As(err, &api):
		return answerClass(api)
	case errors.As(err, &tr):
		c := Class{Kind: KindUnreachable, Endpoint: tr.Endpoint, Path: tr.Path}
		switch {
		case errors.Is(tr.Err, ErrTimeout), errors.Is(tr.Err, context.DeadlineExceeded):
			c.Kind, c.Breaker = KindTimeout, BreakerFailure
		case errors.Is(tr.Err, context.Canceled):
			c.Kind = KindCanceled
		case isConnectionError(tr.Err):
			c.Retryable, c.Breaker = true, BreakerFailure
		}
		// Otherwise the request never left, e.g. a header net/http
		// refused to send: the upstream is not to blame.
		return c
	case errors.As(err, &de):
		c := Class{Kind: KindBadResponse, Endpoint: de.Endpoint, Path: de.Path, HTTPStatus: de.HTTPStatus, Status: de.HTTPStatus, Breaker: BreakerFailure}
		if errors.Is(de.Err, ErrResponseTooLarge) {
			c.Breaker = BreakerIgnores // one big answer, not a sick upstream
		}
		return c
	case errors.As(err, &pg):
		return Class{Kind: KindBadPagination, Endpoint: pg.Endpoint, Path: pg.Path, Reason: pg.Reason, Breaker: BreakerSuccess}
	case errors.As(err, &fe):
		return Class{Kind: KindBadValue, Endpoint: fe.Endpoint, Reason: fe.Reason, Field: fe.Field}
	case errors.As(err, &ae):
		return Class{Kind: KindInvalidArgument, Endpoint: ae.Endpoint}
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return Class{Kind: KindTimeout}
	case errors.Is(err, context.Canceled):
		return Class{Kind: KindCanceled}
	}
	return Class{Kind: KindUnknown}
}

// answerClass classifies an answer that is an error by the status that
// decides it.
func answerClass(e *APIError) Class {
	code := e.Code()
	c := Class{
		Endpoint: e.Endpoint, Path: e.Path, HTTPStatus: e.HTTPStatus, Status: code,
		UpstreamStatus: e.Status, Description: e.Description, RetryAfter: e.RetryAfter,
		Breaker: BreakerSuccess, // the request was wrong, the upstream is fine
	}
	switch {
	case code == http.StatusBadRequest:
		c.Kind = KindBadRequest
	case code == http.StatusForbidden:
		c.Kind = KindForbidden
	case code == http.StatusNotFound:
		c.Kind = KindNotFound
	case code == http.StatusTooManyRequests:
		// Healthy, and saying how much it takes.
		c.Kind, c.Retryable, c.Breaker = KindRateLimited, true, BreakerIgnores
	case code >= 500 && code <= 599:
		c.Kind = KindServerError
	default:
		c.Kind = KindHTTPError
	}
	if code >= 500 {
		c.Breaker = BreakerFailure
	}
	switch code {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		c.Retryable = true // a proxy or an overloaded upstream: it may pass
	}
	return c
}

// isConnectionError recognises a failure of the connection itself, the
// kind a new connection may not have. Name lookups that found nothing, TLS
// failures and requests net/http refused to send fail the same way every
// time, so they are not among them.
func isConnectionError(err error) bool {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		alert   tls.AlertError
		record  tls.RecordHeaderError
		opErr   *net.OpError
	)
	switch {
	case err == nil:
		return false
	case errors.As(err, new(*cutShortError)):
		return true // whatever broke it, the body stopped mid-way
	case errors.As(err, &dnsErr):
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &alert), errors.As(err, &record):
		return false
	case errors.As(err, &opErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// ErrorType names what broke an HTTP exchange in a few words that never
// name a host: timeout, cancelled, connection_refused, connection_reset,
// connection_closed, dns, tls, or transport. It takes the errors of the
// http.RoundTripper beneath the client (those a *TransportError wraps), for
// a tracing transport's error.type, which sees them before the client does.
func ErrorType(err error) string {
	var (
		ne      net.Error
		dns     *net.DNSError
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection_reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection_closed"
	case errors.As(err, &dns):
		return "dns"
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &alert):
		return "tls"
	}
	return "transport"
}
