package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/salesgraph/salesgraph/restclient"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Error codes salesgraph puts in extensions.code. This is the one table from
// failures to codes; the README lists it for client teams.
const (
	CodeBadUserInput        = "BAD_USER_INPUT"        // an argument is invalid, or the upstream answered 400
	CodeUnauthenticated     = "UNAUTHENTICATED"       // the upstream answered 403 and the caller sent no credential
	CodeForbidden           = "FORBIDDEN"             // the upstream answered 403 to the caller's credential
	CodeUpstreamRateLimited = "UPSTREAM_RATE_LIMITED" // the upstream answered 429
	CodeUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"  // the upstream answered 5xx
	CodeUpstreamError       = "UPSTREAM_ERROR"        // the upstream answered another non-success status
	CodeUpstreamTimeout     = "UPSTREAM_TIMEOUT"      // an upstream call ran out of its own time (the operation's deadline is OPERATION_TIMEOUT)
	CodeUpstreamUnreachable = "UPSTREAM_UNREACHABLE"  // the upstream gave no answer (refused, reset, dropped)
	CodeUpstreamBadResponse = "UPSTREAM_BAD_RESPONSE" // the upstream's answer could not be read or contradicts itself
	CodeUpstreamMemoryLimit = "UPSTREAM_MEMORY_LIMIT" // the memory budget for upstream answers had no room for this one
	CodeCancelled           = "CANCELLED"             // the caller went away before the answer was ready
	CodeInternal            = "INTERNAL_SERVER_ERROR" // a bug; details are logged with the request id, never sent
	// The deadline, breaker and concurrency codes are in resilience.go.
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

// classify maps an error to its extensions.code, a message safe to show to
// the caller, and extra extensions for upstream answers.
func classify(ctx context.Context, err error) (code, msg string, ext map[string]any) {
	if code, msg, ext, ok := classifyResilience(ctx, err); ok {
		return code, msg, ext
	}
	var (
		in  *inputError
		api *restclient.APIError
		tr  *restclient.TransportError
		de  *restclient.DecodeError
		pe  *restclient.PaginationError
		be  *restclient.BodyBudgetError
		fe  *restclient.FieldError
	)
	switch {
	case errors.As(err, &in):
		return CodeBadUserInput, in.msg, nil
	case errors.As(err, &be):
		return CodeUpstreamMemoryLimit, "the service is holding as many upstream answers in memory as it may; try again shortly",
			map[string]any{"upstream": map[string]any{"endpoint": be.Endpoint}}
	case errors.As(err, &api):
		ext = map[string]any{"upstream": upstreamExt(api)}
		switch {
		case restclient.IsForbidden(err):
			if st, ok := stateFrom(ctx); ok && !st.callerCredential {
				return CodeUnauthenticated, "the upstream API refused the request: no credentials were sent (pass an Authorization header)", ext
			}
			return CodeForbidden, "the upstream API refused the credentials sent with this request", ext
		case restclient.IsBadRequest(err):
			return CodeBadUserInput, "the upstream API rejected the request's parameters", ext
		case restclient.IsRateLimited(err):
			if api.RetryAfter > 0 {
				ext["retryAfterSeconds"] = int(api.RetryAfter.Seconds())
			}
			return CodeUpstreamRateLimited, "the upstream API is rate limiting requests", ext
		case restclient.IsServerError(err):
			return CodeUpstreamUnavailable, fmt.Sprintf("the upstream API failed with status %d", api.Code()), ext
		default:
			return CodeUpstreamError, fmt.Sprintf("the upstream API answered with status %d", api.Code()), ext
		}
	case errors.Is(err, restclient.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return CodeUpstreamTimeout, "the upstream API did not answer in time", endpointExt(err)
	case errors.Is(err, context.Canceled):
		return CodeCancelled, "the request was cancelled", nil
	case errors.As(err, &tr):
		return CodeUpstreamUnreachable, "the upstream API could not be reached", map[string]any{"upstream": map[string]any{"endpoint": tr.Endpoint}}
	case errors.As(err, &de):
		return CodeUpstreamBadResponse, "the upstream API sent a response that could not be read", map[string]any{"upstream": map[string]any{"endpoint": de.Endpoint, "httpStatus": de.HTTPStatus}}
	case errors.As(err, &pe):
		return CodeUpstreamBadResponse, "the upstream API's pagination could not be followed: " + pe.Reason, map[string]any{"upstream": map[string]any{"endpoint": pe.Endpoint}}
	case errors.As(err, &fe):
		// One field of one record: the rest of the answer stands.
		return CodeUpstreamBadResponse, "the upstream API sent a value for this field that could not be read: " + fe.Reason,
			map[string]any{"upstream": map[string]any{"endpoint": fe.Endpoint, "field": fe.Field}}
	}
	return CodeInternal, "internal error", nil
}

func upstreamExt(e *restclient.APIError) map[string]any {
	m := map[string]any{"endpoint": e.Endpoint, "httpStatus": e.HTTPStatus}
	if e.Status != 0 {
		m["status"] = e.Status
	}
	if e.Description != "" {
		m["description"] = e.Description
	}
	return m
}

func endpointExt(err error) map[string]any {
	var tr *restclient.TransportError
	if errors.As(err, &tr) {
		return map[string]any{"upstream": map[string]any{"endpoint": tr.Endpoint}}
	}
	return nil
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
