// Command gen generates graph's GraphQL executor: gqlgen's, run through
// its library (api.Generate, as `gqlgen generate` does) with a plugin of
// this package, which specialises it where gqlgen has no option for what
// graph needs:
//
//   - Lists are marshalled on the calling goroutine when nothing below them
//     waits for a load. gqlgen gives every element of a list of objects a
//     goroutine, because an element may hold a field that waits for a
//     dataloader batch; most lists served here hold nothing of the kind.
//     The list marshalers call graph.marshalList (graph/lists.go), which
//     reads the fields that do wait from lists_gen.go. They hand it the
//     execution context too: a list with @stream sends its later elements
//     through the context's deferred results, as gqlgen sends @defer's.
//   - An object whose selected fields are all plain (a struct field or a
//     method of the model without context or arguments, of a scalar or
//     enum type, without directives) is written straight to JSON by its
//     fast_<Type> function in fast_gen.go, instead of through a field
//     context, the field middleware and a marshaler per field. Anything
//     else (an error, a null where the schema says non-null, a
//     sub-selection, @defer, a panic) falls back to gqlgen's own code for
//     that object, which then behaves exactly as before. The field
//     middleware is skipped: graph's tests hold the set of field
//     interceptors it is known to be safe with (graph/fast.go).
//   - An object whose model has a method `Unreadable() error` (graph/model)
//     is asked first whether its upstream record can be served as that
//     type at all; if not, the object is null in its place, with the error
//     at its path, and none of its fields run. gqlgen has no hook between
//     an object and its fields.
//   - The buffer an operation's data is marshalled into is allocated at
//     the size its fields were charged to the response meter
//     (graph.dataSize), instead of growing by doubling from nothing.
//
// What to write is derived from gqlgen's codegen.Data (plan.go), the
// model gqlgen renders its own templates from, not from the text it
// writes. fast_gen.go and lists_gen.go are rendered by the plugin; the
// executor itself can only be edited after gqlgen has written it (its
// templates are not replaceable), at sites found in the parsed file and
// counted against the plan (rewrite.go): when gqlgen's output changes
// shape, generation fails and says which shape, instead of writing a
// slower executor. Every file written names everything that wrote it.
//
// The package the executor is generated into provides what the written
// code calls: marshalList and dataSize (graph/lists.go), beginFast and its
// writer (graph/fast.go).
//
// Usage, in graph/ (go generate ./graph): go run ./internal/gen. It reads
// gqlgen.yml from the nearest directory up, as gqlgen does.
package main

import (
	"fmt"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	if len(os.Args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/gen (in graph/; it reads gqlgen.yml from the nearest directory up)")
		os.Exit(2)
	}
	cfg, err := config.LoadConfigFromDefaultLocations() // and enters its directory
	if err == nil {
		err = generate(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, generator+":", err)
		os.Exit(1)
	}
}

// generate runs gqlgen with the plugin, then rewrites gqlgen's executor.
func generate(cfg *config.Config) error {
	p := &genPlugin{}
	if err := api.Generate(cfg, api.AddPlugin(p)); err != nil {
		return err
	}
	return p.rewriteExec()
}
