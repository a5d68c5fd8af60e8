package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Field-level error codes: those an error at a field's path carries, from
// the argument checks, the upstream and the operation's resilience. This is
// the one table from failures to codes (classify, below);
// docs/frontend/errors.md lists every code for client teams, and
// TestErrorCodeTableIsTheCodes keeps the two the same. Request-level codes
// (the transport's, the document limits', the estimate's) belong to the
// endpoint, which answers them before any field runs.
const (
	CodeBadUserInput             = gqlhttp.CodeBadUserInput     // an argument is invalid, or the upstream answered 400
	CodeUnauthenticated          = "UNAUTHENTICATED"            // the upstream answered 403 and the caller sent no credential
	CodeForbidden                = "FORBIDDEN"                  // the upstream answered 403 to the caller's credential
	CodeUpstreamRateLimited      = "UPSTREAM_RATE_LIMITED"      // the upstream answered 429, or our own rate limit refused the call (extensions.scope "facade")
	CodeUpstreamUnavailable      = "UPSTREAM_UNAVAILABLE"       // the upstream answered 5xx
	CodeUpstreamError            = "UPSTREAM_ERROR"             // the upstream answered another non-success status
	CodeUpstreamTimeout          = "UPSTREAM_TIMEOUT"           // an upstream call ran out of its own time (the operation's deadline is OPERATION_TIMEOUT)
	CodeUpstreamUnreachable      = "UPSTREAM_UNREACHABLE"       // the upstream gave no answer (refused, reset, dropped)
	CodeUpstreamBadResponse      = "UPSTREAM_BAD_RESPONSE"      // the upstream's answer could not be read or contradicts itself
	CodeUpstreamMemoryLimit      = "UPSTREAM_MEMORY_LIMIT"      // the memory budget for upstream answers had no room for this one
	CodeUpstreamCircuitOpen      = "UPSTREAM_CIRCUIT_OPEN"      // the circuit breaker refused the call: the upstream is failing
	CodeUpstreamPathEjected      = "UPSTREAM_PATH_EJECTED"      // the call was not sent: the upstream kept failing this path (one user's list) for this caller
	CodeOperationTimeout         = "OPERATION_TIMEOUT"          // the operation's deadline passed while it waited for the upstream
	CodeUpstreamConcurrencyLimit = "UPSTREAM_CONCURRENCY_LIMIT" // no upstream slot came free before the operation's deadline
	CodeCancelled                = gqlhttp.CodeCancelled        // the caller went away before the answer was ready
	CodeInternal                 = gqlhttp.CodeInternal         // a bug; details are logged with the request id, never sent
	// UPSTREAM_CALL_BUDGET_EXCEEDED (CodeUpstreamBudget) is also a field's
	// code, once an operation has made as many calls as it may
	// (resilience.go); it is declared with the request-level codes, which
	// the estimate shares.
)

// inputError is an invalid argument found by the facade itself.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// limitError is a wait for an upstream slot that ended with the context.
type limitError struct {
	err   error
	scope string // scopeOperation or scopeService
	limit int    // the bound that was full
}

func (e *limitError) Error() string { return "waiting for an upstream slot: " + e.err.Error() }
func (e *limitError) Unwrap() error { return e.err }

// panicError is a recovered panic; its value and stack are logged, never
// sent.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// upstreamFailure is what a field whose upstream call failed gets.
type upstreamFailure struct {
	code string
	msg  func(restclient.Class) string // safe to show to the caller
}

func says(msg string) func(restclient.Class) string {
	return func(restclient.Class) string { return msg }
}

// upstreamFailures is the table from restclient's kinds of failure
// (restclient.Classify) to codes. Kinds not in it, an argument restclient
// refused or an error it does not know, are bugs: INTERNAL_SERVER_ERROR.
var upstreamFailures = map[restclient.Kind]upstreamFailure{
	restclient.KindBadRequest: {CodeBadUserInput, says("the upstream API rejected the request's parameters")},
	// Or UNAUTHENTICATED, when the caller sent no credential (classify).
	restclient.KindForbidden:   {CodeForbidden, says("the upstream API refused the credentials sent with this request")},
	restclient.KindRateLimited: {CodeUpstreamRateLimited, says("the upstream API is rate limiting requests")},
	restclient.KindServerError: {CodeUpstreamUnavailable, func(c restclient.Class) string {
		return fmt.Sprintf("the upstream API failed with status %d", c.Status)
	}},
	restclient.KindNotFound:    {CodeUpstreamError, answeredStatus},
	restclient.KindHTTPError:   {CodeUpstreamError, answeredStatus},
	restclient.KindTimeout:     {CodeUpstreamTimeout, says("the upstream API did not answer in time")},
	restclient.KindCanceled:    {CodeCancelled, says("the request was cancelled")},
	restclient.KindUnreachable: {CodeUpstreamUnreachable, says("the upstream API could not be reached")},
	restclient.KindBadResponse: {CodeUpstreamBadResponse, says("the upstream API sent a response that could not be read")},
	restclient.KindBadPagination: {CodeUpstreamBadResponse, func(c restclient.Class) string {
		return "the upstream API's pagination could not be followed: " + c.Reason
	}},
	// One field of one record: the rest of the answer stands. Without its
	// id, a record is no object at all, and the error stands where it would.
	restclient.KindBadValue: {CodeUpstreamBadResponse, func(c restclient.Class) string {
		if c.Field == "id" {
			return "the upstream API sent a record without a usable id, so it is served as null: " + c.Reason
		}
		return "the upstream API sent a value for this field that could not be read: " + c.Reason
	}},
	restclient.KindCircuitOpen: {CodeUpstreamCircuitOpen, says("the upstream API is failing, so calls to it are paused for a few seconds to let it recover")},
	// One path, for one caller: extensions.upstream is the path's last
	// failure, retryAfterSeconds the time left (classify).
	restclient.KindPathEjected: {CodeUpstreamPathEjected, func(c restclient.Class) string {
		last := "without an answer"
		if c.Status != 0 {
			last = fmt.Sprintf("last with status %d", c.Status)
		}
		return fmt.Sprintf("the upstream API failed repeatedly for this list (%s), so calls for it are paused for %d s; other lists are still served", last, retrySeconds(c.RetryAfter))
	}},
	// Ours, not the upstream's 429: extensions.scope says "facade" (classify).
	restclient.KindLimited:     {CodeUpstreamRateLimited, says("the service is holding its calls to the upstream API to their rate limit, and this one's turn would come too late; try again shortly")},
	restclient.KindMemoryLimit: {CodeUpstreamMemoryLimit, says("the service is holding as many upstream answers in memory as it may; try again shortly")},
}

// retrySeconds is a wait in whole seconds, rounded up.
func retrySeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

func answeredStatus(c restclient.Class) string {
	return fmt.Sprintf("the upstream API answered with status %d", c.Status)
}

// classify maps an error to its extensions.code, a message safe to show to
// the caller, and extra extensions: the facade's own failures first, then
// the operation's deadline, then the upstream's through upstreamFailures.
func classify(ctx context.Context, err error) (code, msg string, ext map[string]any) {
	var (
		in *inputError
		be *budgetError
		le *limitError
	)
	switch {
	case errors.As(err, &in):
		return CodeBadUserInput, in.msg, nil
	case errors.As(err, &be):
		return CodeUpstreamBudget, fmt.Sprintf("this operation needs more than %d upstream calls, the most one may make; ask for fewer users, pages or nested threads", be.limit),
			map[string]any{"limit": be.limit, "budget": budgetCallsPerOperation}
	case errors.As(err, &le):
		if errors.Is(le.err, context.Canceled) {
			return CodeCancelled, "the request was cancelled", nil
		}
		msg := "the operation ran out of time waiting for a free upstream slot: the service has too many upstream calls in flight"
		if le.scope == scopeOperation {
			msg = "the operation ran out of time waiting for a free upstream slot: it has too many upstream calls in flight at once"
		}
		return CodeUpstreamConcurrencyLimit, msg, map[string]any{"limit": le.limit, "scope": le.scope}
	}
	c := restclient.Classify(err)
	if errors.Is(err, errOperationTimeout) || errors.Is(err, context.DeadlineExceeded) && operationTimedOut(ctx) {
		return CodeOperationTimeout, "the operation ran out of time before the upstream API answered", upstreamExt(c)
	}
	f, ok := upstreamFailures[c.Kind]
	if !ok {
		return CodeInternal, "internal error", nil
	}
	code, msg, ext = f.code, f.msg(c), upstreamExt(c)
	switch c.Kind {
	case restclient.KindForbidden:
		if st, ok := stateFrom(ctx); ok && !st.callerCredential {
			code, msg = CodeUnauthenticated, "the upstream API refused the request: no credentials were sent (pass an Authorization header)"
		}
	case restclient.KindRateLimited:
		if c.RetryAfter > 0 {
			ext["retryAfterSeconds"] = int(c.RetryAfter.Seconds())
		}
	case restclient.KindLimited:
		if ext == nil {
			ext = map[string]any{}
		}
		ext["scope"] = "facade"
		if c.RetryAfter > 0 {
			ext["retryAfterSeconds"] = retrySeconds(c.RetryAfter)
		}
	case restclient.KindPathEjected:
		if ext == nil {
			ext = map[string]any{}
		}
		ext["retryAfterSeconds"] = retrySeconds(c.RetryAfter)
	case restclient.KindCanceled:
		ext = nil // nobody reads it
	}
	return code, msg, ext
}

// upstreamExt is extensions.upstream: where the failure happened (the
// endpoint template, never a concrete path) and what the upstream said. nil
// for a failure that names no endpoint.
func upstreamExt(c restclient.Class) map[string]any {
	if c.Endpoint == "" {
		return nil
	}
	m := map[string]any{"endpoint": c.Endpoint}
	if c.HTTPStatus != 0 {
		m["httpStatus"] = c.HTTPStatus
	}
	if c.UpstreamStatus != 0 {
		m["status"] = c.UpstreamStatus
	}
	if c.Description != "" {
		m["description"] = c.Description
	}
	if c.Field != "" {
		m["field"] = c.Field
	}
	return map[string]any{"upstream": m}
}

// errorPresenter turns every resolver error into a GraphQL error with a path
// and an extensions.code. Errors the facade does not recognise are masked and
// logged in full with the request id.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Err == nil {
			// Errors gqlgen made itself (validation, coercion) or that we made
			// complete: make sure they carry a code.
			if gqlErr.Extensions == nil || gqlErr.Extensions["code"] == nil {
				if gqlErr.Extensions == nil {
					gqlErr.Extensions = map[string]any{}
				}
				gqlErr.Extensions["code"] = CodeBadUserInput
			}
			return gqlErr
		}
		// A fresh error: gqlgen hands the resolver's error over already
		// wrapped in a *gqlerror.Error, and rewriting that one in place would
		// both lose the detail logged below and make it its own Err, a cycle
		// that errors.Is would follow for ever.
		base := graphql.DefaultErrorPresenter(ctx, err)
		pres := &gqlerror.Error{Err: err, Path: base.Path, Locations: base.Locations}
		code, msg, ext := classify(ctx, err)
		pres.Message = msg
		pres.Extensions = map[string]any{"code": code}
		for k, v := range ext {
			pres.Extensions[k] = v
		}
		st, _ := stateFrom(ctx)
		if st != nil && st.requestID != "" {
			pres.Extensions["requestId"] = st.requestID
		}
		if code == CodeInternal {
			attrs := []any{"requestId", requestID(st), "path", pres.Path.String(), "error", err.Error()}
			if pe := (*panicError)(nil); errors.As(err, &pe) && len(pe.stack) > 0 {
				attrs = append(attrs, "stack", string(pe.stack))
			}
			log.ErrorContext(ctx, "internal error", attrs...)
		}
		return pres
	}
}

func requestID(st *requestState) string {
	if st == nil {
		return ""
	}
	return st.requestID
}

// recoverFunc turns a resolver panic into a masked internal error.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		st, _ := stateFrom(ctx)
		log.ErrorContext(ctx, "resolver panic", "requestId", requestID(st), "panic", fmt.Sprint(v))
		return newPanicError(v) // the presenter logs its stack
	}
}
