// Package gqlhttp is a hardened GraphQL-over-HTTP endpoint for any gqlgen
// executable schema: the http.Handler that faces browsers and the internet
// in front of gqlgen's executor.
//
// What it does, each step before anything that step protects:
//
//   - GraphQL over HTTP as the specification says, one file per concern,
//     as gqlgen's transports are: the order of the steps and the operation
//     run (transport.go); GET, POST and QUERY requests and JSON-array batches read
//     (request.go; batching is off by default, and a batch's operations run
//     concurrently, batch.go); the response's media type from Accept
//     (negotiation.go); documents parsed, checked, validated and kept
//     (document.go); responses and refusals written, request errors without
//     data (encoding.go); the error codes and their status codes
//     (codes.go); @defer delivered as multipart/mixed to a client that
//     takes it (incremental.go, incremental_defer.go, incremental_wire.go);
//     the QUERY method, a POST that runs queries only (query_method.go);
//   - for the browser's HTTP layer: ETags bound to the forwarded headers,
//     and 304 (etag.go); a Server-Timing header, with the application's
//     numbers through a hook (servertiming.go);
//   - document limits before parsing and validation: tokens, nesting,
//     depth, aliases, root fields, fields, fragment cycles (limits.go);
//   - CSRF prevention and CORS (csrf.go), the rules for headers forwarded
//     to resolvers (headers.go), automatic persisted queries and allow-list
//     mode (apq.go), persisted documents by documentId (documentid.go);
//   - caps on what one response may hold and on the memory of all
//     responses being built (response_budget.go), and the masking of a
//     request's values in its errors (masking.go).
//
// Every refusal is a GraphQL error with an extensions.code (the Code*
// constants, codes.go). It is configured by Options (options.go),
// validated in the words of its fields, and calls back through the
// Server's hook fields (server.go).
//
// What it is not: it knows no schema, executes nothing itself (gqlgen does)
// and estimates no cost: what an operation will cost once its variables are
// known, and the checks of its arguments, are the schema's, given to
// Server.Use as gqlgen extensions. It has no error table of its own beyond
// its request-level codes (an application's error presenter gives resolver
// errors theirs), no metrics and no logs but its own failures: the hooks
// tell the application what it needs to count and log. It imports nothing
// of salesgraph's.
//
// Use:
//
//	srv, err := gqlhttp.New(generated.NewExecutableSchema(cfg), gqlhttp.Options{
//		ForwardHeaders: []string{"Authorization"},
//		AllowedOrigins: []string{"https://app.example.com"},
//	})
//	if err != nil {
//		return err // a *gqlhttp.ConfigError naming each bad field
//	}
//	srv.Use(costLimit{})                      // an OperationContextMutator
//	srv.SetErrorPresenter(presentError)       // resolver errors get their codes
//	srv.RequestID = func(r *http.Request) string { return newID(r) }
//	srv.Begin = func(ctx context.Context, r *http.Request) (context.Context, func()) {
//		creds := gqlhttp.ForwardedFrom(ctx) // exactly the allowed headers
//		return withLoaders(ctx, creds), func() {}
//	}
//	srv.OnRefused = func(ctx context.Context, errs gqlerror.List) { countRefusal(errs) }
//	http.Handle("/graphql", srv)
//
// Resolvers that start work of their own below an operation with @defer
// call Rejoin on their context, which gives it the operation's cancellation
// back.
package gqlhttp
