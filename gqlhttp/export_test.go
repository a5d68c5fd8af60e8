package gqlhttp

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// SetValidator replaces the document validator until restore is called, so
// that a test can put a validator without cycle protection behind the
// transport and prove that no cyclic document reaches it.
func SetValidator(f func(*ast.Schema, *ast.QueryDocument, *rules.Rules) gqlerror.List) (restore func()) {
	old := validateDocument
	validateDocument = f
	return func() { validateDocument = old }
}

// SetEncodeHook has f told the size of the data gqlgen buffered for each
// response, until restore is called.
func SetEncodeHook(f func(dataBytes int)) (restore func()) {
	old := encodeHook
	encodeHook = f
	return func() { encodeHook = old }
}
