package gqlhttp

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// SetValidator has the Server o configures validate documents with f, so
// that a test can put a validator without cycle protection behind the
// transport and prove that no cyclic document reaches it.
func SetValidator(o *Options, f func(*ast.Schema, *ast.QueryDocument, *rules.Rules) gqlerror.List) {
	o.test.validate = f
}

// SetEncodeHook has f told, by the Server o configures, the size of the
// data gqlgen buffered for each response.
func SetEncodeHook(o *Options, f func(dataBytes int)) { o.test.encoded = f }

// TracingHeaders are the headers CORS lets a page send to trace its calls.
var TracingHeaders = tracingHeaders
