// Package observe is salesgraph's observability toolkit: Prometheus metrics
// on a registry of their own, OpenTelemetry tracing configured by the
// standard OTEL_* environment variables, an upstream RoundTripper that makes
// a span per HTTP call and propagates W3C trace context, request ids,
// slog helpers, and the liveness and readiness probes.
//
// It knows nothing of GraphQL and imports nothing of salesgraph's: package
// graph calls it per operation, and package telemetry wires it into the
// upstream client and the HTTP server, handing it labels the callers compute
// (restclient's classification of an upstream call, its error type for
// spans). Nothing it
// records carries a credential, a host, or a concrete id in a metric label:
// labels are endpoint templates, operation names from a bounded set, and
// error codes.
//
// Every method of *Metrics and *Tracing may be called on a nil receiver and
// then does nothing, so that code paths need no "is observability on" checks.
package observe
