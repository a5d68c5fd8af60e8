package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// printSchema writes the schema salesgraph serves to w, for client teams'
// code generators: format "sdl" prints it as GraphQL SDL, "introspection"
// prints the response to the standard introspection query as JSON, exactly
// as a live server answers it. Both come from the schema compiled into the
// binary (gqlgen's generated code), not from schema.graphqls on disk, so they
// show what is served; TestPrintedSchemaEqualsFile checks that the two agree.
// Neither needs an upstream.
func printSchema(w io.Writer, format string) error {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}})
	var buf bytes.Buffer
	switch format {
	case "sdl":
		formatSDL(&buf, es.Schema())
	case "introspection":
		b, err := introspect(context.Background(), es)
		if err != nil {
			return err
		}
		buf.Write(b)
	default:
		return fmt.Errorf("print-schema: unknown format %q (want sdl or introspection)", format)
	}
	_, err := buf.WriteTo(w)
	return err
}

// formatSDL writes s as SDL with gqlparser's formatter, without the built-in
// scalars and directives. The formatter omits the schema definition whenever
// its root types have their default names, and with it the schema's
// description, so formatSDL writes that definition itself when there is a
// description to keep.
func formatSDL(w io.Writer, s *ast.Schema) {
	f := formatter.NewFormatter(w, formatter.WithIndent("  "))
	if s.Description == "" {
		f.FormatSchema(s)
		return
	}
	def := &ast.SchemaDefinition{Description: s.Description, Directives: s.SchemaDirectives}
	for _, root := range []struct {
		op  ast.Operation
		def *ast.Definition
	}{{ast.Query, s.Query}, {ast.Mutation, s.Mutation}, {ast.Subscription, s.Subscription}} {
		if root.def != nil {
			def.OperationTypes = append(def.OperationTypes, &ast.OperationTypeDefinition{Operation: root.op, Type: root.def.Name})
		}
	}
	f.FormatSchemaDocument(&ast.SchemaDocument{Schema: ast.SchemaDefinitionList{def}})
	// The rest without the roots and schema directives, which are written
	// above and would otherwise be written twice.
	rest := *s
	rest.Query, rest.Mutation, rest.Subscription, rest.SchemaDirectives = nil, nil, nil, nil
	f.FormatSchema(&rest)
}

// introspect runs gqlgen's full introspection query (every field of the
// introspection types, descriptions and deprecated members included) against
// es, in process, and returns the response as indented JSON:
// {"data": {"__schema": …}}, the shape that graphql-codegen, Apollo's tools
// and graphql-js's buildClientSchema (given .data) read.
func introspect(ctx context.Context, es graphql.ExecutableSchema) ([]byte, error) {
	exec := executor.New(es)
	exec.Use(extension.Introspection{})
	ctx = graphql.StartOperationTrace(ctx)
	op, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: introspection.Query, OperationName: "IntrospectionQuery"})
	if errs != nil {
		return nil, fmt.Errorf("introspection query: %w", errs)
	}
	responses, ctx := exec.DispatchOperation(ctx, op)
	resp := responses(ctx)
	if resp == nil {
		return nil, fmt.Errorf("introspection query: no response")
	}
	if len(resp.Errors) > 0 {
		return nil, fmt.Errorf("introspection query: %w", resp.Errors)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(`{"data":`+string(resp.Data)+`}`), "", "  "); err != nil {
		return nil, fmt.Errorf("introspection result: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
