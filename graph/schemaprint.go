package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"
)

// PrintSchema writes the schema salesgraph serves to w, for client teams'
// code generators: format "sdl" prints it as GraphQL SDL, "introspection"
// prints the response to the standard introspection query as JSON, exactly
// as a live server answers it. Both come from the schema compiled into the
// binary (gqlgen's generated code), not from schema.graphqls on disk, so they
// show what is served. The SDL is the source text gqlgen compiled, byte for
// byte, so that it diffs cleanly against schema.graphqls (a formatter would
// reorder the types and restyle the descriptions), then the directives the
// server adds (addedDirectives). TestPrintedSchemaIsTheFile checks both.
// Neither needs an upstream.
func PrintSchema(w io.Writer, format string) error {
	es := NewExecutableSchema(Config{Resolvers: &Resolver{}})
	var buf bytes.Buffer
	switch format {
	case "sdl":
		src, err := schemaSource(es.Schema())
		if err != nil {
			return err
		}
		buf.WriteString(src)
		buf.WriteString(addedDirectives)
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

// addedDirectives are the directives salesgraph serves that schema.graphqls
// does not declare, because gqlgen builds them in (gqlparser's prelude), but
// that most clients' tools do not know: graphql-js 16, which GraphQL Code
// Generator and Apollo's tooling validate documents with, has no @defer.
// @defer is declared as the incremental-delivery RFC and graphql-js 17
// declare it, `if` non-null: a document valid against it is valid on the
// server too, whose `if` also takes null. TestPrintedSchemaIsTheFile checks
// each against the served directive of that name.
const addedDirectives = `
"Delivers the fragment later, in a part of its own of a multipart/mixed response (incremental delivery), unless ` + "`if`" + ` is false; ` + "`label`" + ` names it there."
directive @defer(if: Boolean! = true, label: String) on FRAGMENT_SPREAD | INLINE_FRAGMENT
`

// schemaSource is the text of the source files s was parsed from, without
// the built-in prelude, in the order of their names. Every definition
// remembers its source, which gqlgen's generated code embeds verbatim.
func schemaSource(s *ast.Schema) (string, error) {
	var sources []*ast.Source
	add := func(p *ast.Position) {
		if p != nil && p.Src != nil && !p.Src.BuiltIn && !slices.Contains(sources, p.Src) {
			sources = append(sources, p.Src)
		}
	}
	for _, d := range s.Types {
		add(d.Position)
	}
	for _, d := range s.Directives {
		add(d.Position)
	}
	if len(sources) == 0 {
		return "", errors.New("print-schema: the compiled schema holds no source text")
	}
	slices.SortFunc(sources, func(a, b *ast.Source) int { return strings.Compare(a.Name, b.Name) })
	var out strings.Builder
	for i, src := range sources {
		if i > 0 && !strings.HasSuffix(out.String(), "\n\n") {
			out.WriteString("\n")
		}
		out.WriteString(src.Input)
	}
	return out.String(), nil
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
