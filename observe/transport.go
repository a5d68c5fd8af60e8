package observe

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// NewTransport wraps base (http.DefaultTransport when nil) so that each
// upstream HTTP request, retries included, gets a CLIENT span and carries
// the W3C trace context of its caller: the span's when tracing is on, the
// caller's own when it is off (pass-through). A nil t only passes base
// through.
//
// Spans are named "GET /api/v1/users/{id}/meetings": the endpoint template,
// never the concrete path, which is an attribute. The URL's host and query
// are not recorded, nor is any header, and an error is recorded as the
// short class errorType gives it (restclient.ErrorType: timeout,
// connection_refused, ...), never as its message, which can name the host;
// a nil errorType records every error as "_OTHER", OpenTelemetry's word for
// an error of no known type.
func NewTransport(base http.RoundTripper, t *Tracing, errorType func(error) string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if t == nil {
		return base
	}
	if errorType == nil {
		errorType = func(error) string { return "_OTHER" }
	}
	return &transport{base: base, t: t, errorType: errorType}
}

type transport struct {
	base      http.RoundTripper
	t         *Tracing
	errorType func(error) string
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !tr.t.Enabled() {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return tr.base.RoundTrip(req)
		}
		return tr.base.RoundTrip(tr.withContextHeaders(ctx, req))
	}
	tmpl := PathTemplate(req.URL.Path)
	ctx, span := tr.t.tracer.Start(ctx, req.Method+" "+tmpl, trace.WithSpanKind(trace.SpanKindClient))
	resp, err := tr.base.RoundTrip(tr.withContextHeaders(ctx, req))
	if !span.IsRecording() {
		// Not sampled: the context went upstream (with its sampled flag
		// off), and the span needs nothing more.
		span.End()
		return resp, err
	}
	span.SetAttributes(
		attribute.String("http.request.method", req.Method),
		attribute.String("url.template", tmpl),
		attribute.String("url.path", req.URL.Path),
	)
	if n, ok := req.Context().Value(attemptsKey{}).(*atomic.Int32); ok {
		if resend := n.Add(1) - 1; resend > 0 {
			span.SetAttributes(attribute.Int("http.request.resend_count", int(resend)))
		}
	}
	if err != nil {
		class := tr.errorType(err)
		span.SetAttributes(attribute.String("error.type", class))
		span.SetStatus(codes.Error, class)
		span.End()
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		// Client spans mark 4xx as errors too: for the facade, an upstream
		// 4xx is a failed call.
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		span.End()
		return resp, nil
	}
	// The span lasts until the body is read and closed, like the call.
	resp.Body = &spanBody{ReadCloser: resp.Body, span: span, errorType: tr.errorType}
	return resp, nil
}

type attemptsKey struct{}

// CountAttempts returns a context under which the transport numbers the
// HTTP attempts of one logical call: its retries' spans then carry
// http.request.resend_count, so that retries show in the trace. Wrap the
// context of each call the retrying client makes, once.
func CountAttempts(ctx context.Context) context.Context {
	return context.WithValue(ctx, attemptsKey{}, new(atomic.Int32))
}

// withContextHeaders returns a shallow copy of req whose headers carry
// ctx's trace context; a RoundTripper must not modify the request it is
// given.
func (tr *transport) withContextHeaders(ctx context.Context, req *http.Request) *http.Request {
	r := req.WithContext(ctx)
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = make(http.Header, 2)
	}
	tr.t.Inject(ctx, r.Header)
	return r
}

// spanBody ends the request's span when the body is closed, or read to the
// end, whichever comes first.
type spanBody struct {
	io.ReadCloser
	span      trace.Span
	errorType func(error) string
	once      sync.Once
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil || err == io.EOF:
	default:
		class := b.errorType(err)
		b.span.SetAttributes(attribute.String("error.type", class))
		b.span.SetStatus(codes.Error, class)
	}
	return n, err
}

func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.span.End() })
	return err
}

// PathTemplate turns a concrete path into its template by replacing every
// all-digit segment with {id}: /api/v1/users/7/threads becomes
// /api/v1/users/{id}/threads. Ids are positive integers in this API, so the
// template is what the documentation calls the endpoint, behind any base
// path prefix.
func PathTemplate(path string) string {
	if !hasDigitSegment(path) {
		return path
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if isDigits(s) {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

func hasDigitSegment(path string) bool {
	for s := range strings.SplitSeq(path, "/") {
		if isDigits(s) {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
