// Package graph is salesgraph's GraphQL layer: the resolvers, the per-request
// dataloaders that are the only way resolvers reach the upstream, the table
// of fields (fields.go: each field's argument checks, cost and look-ahead),
// the one table from failures to GraphQL error codes (errors.go), the
// HTTP handler that server.go and the end-to-end tests share, and the
// served schema printed for client tools (schemaprint.go, -print-schema).
package graph

// gqlgen, with graph/internal/gen's plugin and rewrite (see its doc).
//go:generate go run ./internal/gen

import "github.com/vektah/gqlparser/v2/ast"

// Resolver is the dependency root of the resolvers. It holds nothing
// per-request: everything that belongs to one operation (loaders, credentials)
// travels in the context, installed by the handler's middleware.
type Resolver struct {
	// schema lets resolvers look ahead into the selection below them.
	schema *ast.Schema
	// cursors issues and checks the connections' cursors (cursor.go).
	cursors *cursorCodec
}
