package gqlhttp

import (
	"net/http"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The codes of the endpoint's own errors, the HTTP status a request error
// with each gets (one table, read by every refusal), and reqError, the
// refusal before execution that carries them.

// The request-level error codes: refusals before execution, and the few
// errors the endpoint makes itself during it.
const (
	CodeBadRequest                 = "BAD_REQUEST"                     // the HTTP request is not a well-formed GraphQL request
	CodeMethodNotAllowed           = "METHOD_NOT_ALLOWED"              // not GET, POST or QUERY, or a mutation over GET or QUERY
	CodeNotAcceptable              = "NOT_ACCEPTABLE"                  // Accept names no media type the endpoint answers in
	CodeUnsupportedMediaType       = "UNSUPPORTED_MEDIA_TYPE"          // a body that is not application/json in UTF-8
	CodeCSRFPrevented              = "CSRF_PREFLIGHT_REQUIRED"         // a GET without a JSON Content-Type or a preflight header
	CodeRequestTooLarge            = "REQUEST_TOO_LARGE"               // a body over MaxRequestBytes
	CodeBatchingDisabled           = "BATCHING_DISABLED"               // a JSON array of operations, with batching off
	CodeBatchTooLarge              = "BATCH_TOO_LARGE"                 // a batch of more than MaxBatchSize operations
	CodeParseFailed                = "GRAPHQL_PARSE_FAILED"            // the document does not parse
	CodeValidationFailed           = "GRAPHQL_VALIDATION_FAILED"       // the document does not validate, or names no runnable operation
	CodeTokenLimit                 = "TOKEN_LIMIT_EXCEEDED"            // more than MaxTokens tokens
	CodeDepthLimit                 = "DEPTH_LIMIT_EXCEEDED"            // fields nested deeper than MaxDepth
	CodeAliasLimit                 = "ALIAS_LIMIT_EXCEEDED"            // more than MaxAliases aliases
	CodeRootFieldLimit             = "ROOT_FIELD_LIMIT_EXCEEDED"       // more than MaxRootFields root fields
	CodeFieldLimit                 = "FIELD_LIMIT_EXCEEDED"            // more than MaxFields field selections
	CodeTooManyErrors              = "TOO_MANY_ERRORS"                 // the summary of errors past MaxErrors
	CodeResponseTooLarge           = "RESPONSE_TOO_LARGE"              // a response over MaxResponseBytes
	CodeResponseMemory             = "RESPONSE_MEMORY_BUDGET_EXCEEDED" // the process-wide MaxResponseMemory could not hold the response
	CodeIntrospectionDisabled      = "INTROSPECTION_DISABLED"          // __schema or __type with introspection off
	CodePersistedQueryNotFound     = "PERSISTED_QUERY_NOT_FOUND"       // a hash or documentId this server does not know
	CodePersistedQueryNotSupported = "PERSISTED_QUERY_NOT_SUPPORTED"   // a hash or documentId, with APQ off and no allow-list
	CodePersistedQueryHashMismatch = "PERSISTED_QUERY_HASH_MISMATCH"   // a hash that is not the document's
	CodeOperationNotAllowed        = "OPERATION_NOT_IN_ALLOWLIST"      // allow-list mode, and the document is not on it
	CodeBadUserInput               = "BAD_USER_INPUT"                  // a variable's value does not fit its declared type
	CodeCancelled                  = "CANCELLED"                       // the executor answered nothing: the caller went away
	CodeInternal                   = "INTERNAL_SERVER_ERROR"           // a panic or an encoding failure; details are logged, never sent
)

// requestStatus is the HTTP status of a response holding a request error
// (no data) with this code, when the response is
// application/graphql-response+json; any other code is 400. With
// application/json, a well-formed request's response is 200 whatever its
// errors, as the specification says.
var requestStatus = map[string]int{
	CodeBadRequest:                 http.StatusBadRequest,
	CodeMethodNotAllowed:           http.StatusMethodNotAllowed,
	CodeNotAcceptable:              http.StatusNotAcceptable,
	CodeUnsupportedMediaType:       http.StatusUnsupportedMediaType,
	CodeCSRFPrevented:              http.StatusBadRequest,
	CodeRequestTooLarge:            http.StatusRequestEntityTooLarge,
	CodeBatchingDisabled:           http.StatusBadRequest,
	CodeBatchTooLarge:              http.StatusBadRequest,
	CodeParseFailed:                http.StatusBadRequest,
	CodeValidationFailed:           http.StatusBadRequest,
	CodeBadUserInput:               http.StatusBadRequest,
	CodeTokenLimit:                 http.StatusBadRequest,
	CodeDepthLimit:                 http.StatusBadRequest,
	CodeAliasLimit:                 http.StatusBadRequest,
	CodeRootFieldLimit:             http.StatusBadRequest,
	CodeFieldLimit:                 http.StatusBadRequest,
	CodeResponseTooLarge:           http.StatusBadRequest,
	CodeResponseMemory:             http.StatusServiceUnavailable,
	CodeIntrospectionDisabled:      http.StatusBadRequest,
	CodePersistedQueryNotFound:     http.StatusNotFound,
	CodePersistedQueryNotSupported: http.StatusBadRequest,
	CodePersistedQueryHashMismatch: http.StatusBadRequest,
	CodeOperationNotAllowed:        http.StatusForbidden,
	CodeInternal:                   http.StatusInternalServerError,
}

// statusFor is the status of a request-error response with these errors.
func statusFor(errs gqlerror.List) int {
	for _, e := range errs {
		if c, ok := e.Extensions["code"].(string); ok {
			if s, ok := requestStatus[c]; ok {
				return s
			}
		}
	}
	return http.StatusBadRequest
}

// reqError is a refusal before execution.
type reqError struct {
	status int  // the status with application/graphql-response+json
	always bool // the status holds with application/json too: the request is not well-formed, or the specification demands it
	allow  string
	errs   gqlerror.List
	batch  int // > 0: answer a JSON array of this many copies (batchRefusal)
}

func requestErr(status int, code, msg string) *reqError {
	return &reqError{status: status, errs: gqlerror.List{{Message: msg, Extensions: map[string]any{"code": code}}}}
}

// transportErr is a refusal of a request that is not a well-formed GraphQL
// request, whatever the media type.
func transportErr(status int, code, msg string) *reqError {
	e := requestErr(status, code, msg)
	e.always = true
	return e
}

func malformed(msg string) *reqError { return transportErr(http.StatusBadRequest, CodeBadRequest, msg) }
