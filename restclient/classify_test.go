package restclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// TestClassify classifies every error the client produces, each made by a
// real call (a literal handler, the fake's faults, a closed port, an open
// breaker), and the errors callers build from the client's (FieldError) or
// wrap. The retry and breaker tests prove that the client acts on these
// classes; this one pins the classes themselves.
func TestClassify(t *testing.T) {
	const path = "/api/v1/users/7/meetings"
	ep := restclient.EndpointUserMeetings
	// plain is a client with neither retries nor a breaker, so that each
	// call is one attempt whose error is the one classified.
	plain := func(t *testing.T, h http.Handler, opts ...restclient.Option) *restclient.Client {
		t.Helper()
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		c, err := restclient.New(srv.URL, append([]restclient.Option{restclient.WithoutRetry(), restclient.WithoutCircuitBreaker()}, opts...)...)
		require.NoError(t, err)
		return c
	}
	meetings := func(t *testing.T, c *restclient.Client) error {
		t.Helper()
		_, err := c.UserMeetings(context.Background(), 7)
		require.Error(t, err)
		return err
	}
	answer := func(status int, header, body string) func(t *testing.T) error {
		return func(t *testing.T) error {
			return meetings(t, plain(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if k, v, ok := strings.Cut(header, ": "); ok {
					w.Header().Set(k, v)
				}
				w.WriteHeader(status)
				io.WriteString(w, body)
			})))
		}
	}
	fault := func(f fakeapi.Fault, opts ...restclient.Option) func(t *testing.T) error {
		return func(t *testing.T) error {
			fake := fakeapi.NewServer()
			t.Cleanup(fake.Close)
			fake.Inject(f)
			return meetings(t, plain(t, fake, append(opts, restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))...))
		}
	}
	answerOf := func(kind restclient.Kind, status int, retryable bool, b restclient.BreakerEffect) restclient.Class {
		return restclient.Class{Kind: kind, Endpoint: ep, Path: path, HTTPStatus: status, Status: status, UpstreamStatus: status, Retryable: retryable, Breaker: b}
	}
	noAnswer := func(kind restclient.Kind, retryable bool, b restclient.BreakerEffect) restclient.Class {
		return restclient.Class{Kind: kind, Endpoint: ep, Path: path, Retryable: retryable, Breaker: b}
	}

	cases := []struct {
		name   string
		err    func(t *testing.T) error
		want   restclient.Class
		result string
	}{
		{"nil", func(*testing.T) error { return nil }, restclient.Class{Kind: restclient.KindOK, Breaker: restclient.BreakerSuccess}, "ok"},
		{"invalid argument", func(t *testing.T) error {
			_, err := plain(t, http.NotFoundHandler()).UserThreads(context.Background(), 7, 0)
			return err
		}, restclient.Class{Kind: restclient.KindInvalidArgument, Endpoint: restclient.EndpointUserThreads}, "error"},

		{"400", answer(400, "", `{"status": 400, "description": "Nieprawidłowe parametry"}`),
			withDescription(answerOf(restclient.KindBadRequest, 400, false, restclient.BreakerSuccess), "Nieprawidłowe parametry"), "http_error"},
		{"403", answer(403, "", `{"status": 403}`), answerOf(restclient.KindForbidden, 403, false, restclient.BreakerSuccess), "http_error"},
		{"403 in a 200 envelope", answer(200, "", `{"status": 403}`),
			restclient.Class{Kind: restclient.KindForbidden, Endpoint: ep, Path: path, HTTPStatus: 200, Status: 403, UpstreamStatus: 403, Breaker: restclient.BreakerSuccess}, "http_error"},
		{"404", answer(404, "", `{"status": 404}`), answerOf(restclient.KindNotFound, 404, false, restclient.BreakerSuccess), "http_error"},
		{"409", answer(409, "", `{"status": 409}`), answerOf(restclient.KindHTTPError, 409, false, restclient.BreakerSuccess), "http_error"},
		{"429 with Retry-After", answer(429, "Retry-After: 3", `{"status": 429}`),
			withRetryAfter(answerOf(restclient.KindRateLimited, 429, true, restclient.BreakerIgnores), 3*time.Second), "http_error"},
		{"500", answer(500, "", `{"status": 500}`), answerOf(restclient.KindServerError, 500, false, restclient.BreakerFailure), "http_error"},
		{"502", answer(502, "", `{"status": 502}`), answerOf(restclient.KindServerError, 502, true, restclient.BreakerFailure), "http_error"},
		{"503 with Retry-After", answer(503, "Retry-After: 1", `{"status": 503}`),
			withRetryAfter(answerOf(restclient.KindServerError, 503, true, restclient.BreakerFailure), time.Second), "http_error"},
		{"504", answer(504, "", `{"status": 504}`), answerOf(restclient.KindServerError, 504, true, restclient.BreakerFailure), "http_error"},

		{"the call's timeout", fault(fakeapi.Fault{Kind: fakeapi.FaultDelay, Delay: time.Minute}, restclient.WithTimeout(20*time.Millisecond)),
			noAnswer(restclient.KindTimeout, false, restclient.BreakerFailure), "timeout"},
		{"the caller's deadline", func(t *testing.T) error {
			fake := fakeapi.NewServer()
			t.Cleanup(fake.Close)
			release := fake.Hold()
			t.Cleanup(release)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, err := plain(t, fake, restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}})).UserMeetings(ctx, 7)
			return err
		}, noAnswer(restclient.KindTimeout, false, restclient.BreakerFailure), "timeout"},
		{"cancelled", func(t *testing.T) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := plain(t, http.NotFoundHandler()).UserMeetings(ctx, 7)
			return err
		}, noAnswer(restclient.KindCanceled, false, restclient.BreakerIgnores), "cancelled"},

		{"connection refused", func(t *testing.T) error {
			srv := httptest.NewServer(http.NotFoundHandler())
			addr := srv.Listener.Addr().String()
			srv.Close()
			c, err := restclient.New("http://"+addr, restclient.WithoutRetry())
			require.NoError(t, err)
			return meetings(t, c)
		}, noAnswer(restclient.KindUnreachable, true, restclient.BreakerFailure), "unreachable"},
		{"connection dropped", fault(fakeapi.Fault{Kind: fakeapi.FaultDropConnection}),
			noAnswer(restclient.KindUnreachable, true, restclient.BreakerFailure), "unreachable"},
		{"body cut short", fault(fakeapi.Fault{Kind: fakeapi.FaultTruncated}),
			noAnswer(restclient.KindUnreachable, true, restclient.BreakerFailure), "unreachable"},
		{"reset mid-body", fault(fakeapi.Fault{Kind: fakeapi.FaultResetMidBody}),
			noAnswer(restclient.KindUnreachable, true, restclient.BreakerFailure), "unreachable"},
		{"a header net/http refuses to send", func(t *testing.T) error {
			ctx := restclient.WithRequestHeaders(context.Background(), http.Header{"Authorization": {"Bearer x\r\nX-Injected: 1"}})
			_, err := plain(t, http.NotFoundHandler()).UserMeetings(ctx, 7)
			return err
		}, noAnswer(restclient.KindUnreachable, false, restclient.BreakerIgnores), "unreachable"},

		{"malformed JSON", fault(fakeapi.Fault{Kind: fakeapi.FaultMalformedJSON}),
			unreadable(ep, path, restclient.BreakerFailure), "bad_response"},
		{"an HTML page", fault(fakeapi.Fault{Kind: fakeapi.FaultWrongContentType}),
			unreadable(ep, path, restclient.BreakerFailure), "bad_response"},
		{"over the size cap", fault(fakeapi.Fault{Kind: fakeapi.FaultLargeBody, Size: 4096}, restclient.WithMaxResponseBytes(1024)),
			unreadable(ep, path, restclient.BreakerIgnores), "bad_response"},
		{"contradicting pagination", answer(200, "", `{"status": 200, "data": {"list": [], "pagination": {"page": 2, "pages_count": 2}}}`),
			restclient.Class{Kind: restclient.KindBadPagination, Endpoint: ep, Path: path, Reason: "asked for page 1, got page 2", Breaker: restclient.BreakerSuccess}, "bad_response"},

		{"circuit open", func(t *testing.T) error {
			fake := fakeapi.NewServer()
			t.Cleanup(fake.Close)
			fake.Inject(fakeapi.Fault{Kind: fakeapi.FaultStatus, Status: 500})
			c, err := restclient.New(fake.URL, restclient.WithoutRetry(),
				restclient.WithCircuitBreaker(restclient.BreakerSettings{FailureRatio: 0.01, MinRequests: 1, OpenTimeout: time.Hour}))
			require.NoError(t, err)
			meetings(t, c) // opens it
			require.Equal(t, restclient.BreakerOpen, c.BreakerState())
			return meetings(t, c)
		}, noAnswer(restclient.KindCircuitOpen, false, restclient.BreakerIgnores), "circuit_open"},
		{"memory budget", func(t *testing.T) error {
			r := newBudgetRig(t)
			r.fake.Inject(fakeapi.Fault{Path: "/api/v1/users/7/meetings", Kind: fakeapi.FaultLargeBody, Size: 600_000, Chunked: true})
			first := r.holdBig(t)
			_, err := r.client.UserMeetings(context.Background(), 7)
			r.resume()
			require.NoError(t, <-first)
			return err
		}, noAnswer(restclient.KindMemoryLimit, false, restclient.BreakerIgnores), "error"},

		{"an unreadable value, as callers report it", func(*testing.T) error {
			return &restclient.FieldError{Endpoint: ep, Field: "visits", Reason: "not an integer"}
		}, restclient.Class{Kind: restclient.KindBadValue, Endpoint: ep, Field: "visits", Reason: "not an integer"}, "bad_response"},
		{"wrapped by a caller", func(t *testing.T) error {
			return fmt.Errorf("loading: %w", answer(404, "", `{"status": 404}`)(t))
		}, answerOf(restclient.KindNotFound, 404, false, restclient.BreakerSuccess), "http_error"},
		{"a bare deadline", func(*testing.T) error { return fmt.Errorf("waiting: %w", context.DeadlineExceeded) },
			restclient.Class{Kind: restclient.KindTimeout}, "timeout"},
		{"a bare cancellation", func(*testing.T) error { return context.Canceled },
			restclient.Class{Kind: restclient.KindCanceled}, "cancelled"},
		{"not the client's", func(*testing.T) error { return errors.New("something else") },
			restclient.Class{Kind: restclient.KindUnknown}, "error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := restclient.Classify(tc.err(t))
			assert.Equal(t, tc.want, got, "kind %v", got.Kind)
			assert.Equal(t, tc.result, got.Result())
		})
	}
}

func withDescription(c restclient.Class, d string) restclient.Class { c.Description = d; return c }

func withRetryAfter(c restclient.Class, d time.Duration) restclient.Class { c.RetryAfter = d; return c }

// unreadable is the class of a 200 answer that could not be read.
func unreadable(ep, path string, b restclient.BreakerEffect) restclient.Class {
	return restclient.Class{Kind: restclient.KindBadResponse, Endpoint: ep, Path: path, HTTPStatus: 200, Status: 200, Breaker: b}
}

// TestErrorType names the failures of the transport beneath the client
// without a host, for spans.
func TestErrorType(t *testing.T) {
	for want, err := range map[string]error{
		"cancelled":          context.Canceled,
		"timeout":            fmt.Errorf("x: %w", context.DeadlineExceeded),
		"connection_refused": &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED},
		"connection_reset":   &net.OpError{Op: "read", Err: syscall.ECONNRESET},
		"connection_closed":  io.ErrUnexpectedEOF,
		"dns":                &net.DNSError{Err: "no such host", Name: "crm.example.com"},
		"transport":          errors.New("something else"),
	} {
		assert.Equal(t, want, restclient.ErrorType(err), "%v", err)
	}
}

func TestKindNames(t *testing.T) {
	seen := map[string]bool{}
	for k := restclient.KindOK; k <= restclient.KindUnknown; k++ {
		name := k.String()
		assert.Regexp(t, `^[a-z_]+$`, name)
		assert.False(t, seen[name], "%s named twice", name)
		seen[name] = true
	}
	assert.Equal(t, "Kind(200)", restclient.Kind(200).String())
}
