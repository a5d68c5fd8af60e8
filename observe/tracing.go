package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// instrumentationName names the tracer, as OpenTelemetry asks.
const instrumentationName = "github.com/salesgraph/salesgraph"

// Tracing is how salesgraph makes spans and carries W3C trace context. When
// tracing is off (no exporter configured) it still accepts a caller's trace
// context and passes it upstream unchanged, so that a traced caller's trace
// continues into the upstream through an untraced facade. A nil *Tracing
// does neither.
type Tracing struct {
	provider   trace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	fields     []string // the propagator's headers, canonical; nil: not known
	enabled    bool
	resolvers  bool
	exporter   string
	shutdown   func(context.Context) error
}

// TracingOption configures NewTracing and TracingFromEnv.
type TracingOption func(*Tracing)

// WithResolverSpans adds a span per resolver call (not per trivial field).
// Off by default: a nested list can run thousands of resolvers, and their
// spans cost more than the operation they describe.
func WithResolverSpans(on bool) TracingOption {
	return func(t *Tracing) { t.resolvers = on }
}

// WithPropagator replaces the default propagator (W3C trace context and
// baggage).
func WithPropagator(p propagation.TextMapPropagator) TracingOption {
	return func(t *Tracing) {
		if p != nil {
			t.propagator = p
		}
	}
}

// NewTracing makes spans with tp, e.g. an SDK provider with an in-memory
// exporter in tests. A nil tp, or a no-op one, turns span making off while
// keeping propagation.
func NewTracing(tp trace.TracerProvider, opts ...TracingOption) *Tracing {
	t := &Tracing{
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		exporter:   "none",
		shutdown:   func(context.Context) error { return nil },
	}
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	_, isNoop := tp.(noop.TracerProvider)
	t.provider, t.enabled = tp, !isNoop
	if t.enabled {
		t.exporter = "custom"
	}
	t.tracer = tp.Tracer(instrumentationName)
	for _, o := range opts {
		o(t)
	}
	for _, f := range t.propagator.Fields() {
		t.fields = append(t.fields, http.CanonicalHeaderKey(f))
	}
	return t
}

// TracingFromEnv configures tracing from the standard OpenTelemetry
// environment variables, read through getenv:
//
//   - OTEL_SDK_DISABLED=true turns everything off;
//   - OTEL_TRACES_EXPORTER: otlp, console (JSON lines on console) or none;
//     unset means otlp when an OTLP endpoint is set, else none (tracing off);
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL:
//     http/protobuf (default) or grpc, the latter only in a binary built
//     with -tags otlpgrpc (otlpgrpc.go);
//   - OTEL_PROPAGATORS: tracecontext and/or baggage (default both), or none.
//
// The OTLP/HTTP exporter (otlphttp.go) reads
// OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION,
// _CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY through getenv; the
// gRPC one and the SDK read theirs from the process environment:
// OTEL_TRACES_SAMPLER[_ARG], OTEL_BSP_*, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES. version becomes
// service.version. Export failures are logged at warn on log.
//
// Unsupported values are errors, so that a misspelt setting stops the start
// rather than silently losing every trace. Call Shutdown to flush.
func TracingFromEnv(ctx context.Context, getenv func(string) string, console io.Writer, log *slog.Logger, version string, opts ...TracingOption) (*Tracing, error) {
	prop, err := propagatorFromEnv(getenv("OTEL_PROPAGATORS"))
	if err != nil {
		return nil, err
	}
	opts = append([]TracingOption{WithPropagator(prop)}, opts...)
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return NewTracing(nil, opts...), nil
	}
	kind, err := exporterKind(getenv)
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	switch kind {
	case "none":
		return NewTracing(nil, opts...), nil
	case "console":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(console))
	case "otlp/http":
		exp, err = newOTLPHTTPExporter(getenv)
	case "otlp/grpc":
		exp, err = newOTLPGRPCExporter(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %s exporter: %w", kind, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "salesgraph"), attribute.String("service.version", version)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	if log != nil {
		// The SDK reports export failures through this process-wide handler.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("opentelemetry", "error", err.Error())
		}))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t := NewTracing(tp, opts...)
	t.exporter, t.shutdown = kind, tp.Shutdown
	return t, nil
}

// exporterKind decides which exporter OTEL_* asks for.
func exporterKind(getenv func(string) string) (string, error) {
	exporter := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")))
	if exporter == "" {
		exporter = "none"
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
			exporter = "otlp"
		}
	}
	switch exporter {
	case "none", "console":
		return exporter, nil
	case "otlp":
	default:
		return "", fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q is not supported (otlp, console or none)", exporter)
	}
	protocol := strings.ToLower(strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")))
	if protocol == "" {
		protocol = strings.ToLower(strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL")))
	}
	switch protocol {
	case "", "http/protobuf":
		return "otlp/http", nil
	case "grpc":
		return "otlp/grpc", nil
	}
	return "", fmt.Errorf("tracing: OTLP protocol %q is not supported (http/protobuf or grpc)", protocol)
}

func propagatorFromEnv(v string) (propagation.TextMapPropagator, error) {
	if strings.TrimSpace(v) == "" {
		return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}), nil
	}
	var ps []propagation.TextMapPropagator
	for _, name := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none", "":
		default:
			return nil, fmt.Errorf("tracing: OTEL_PROPAGATORS: %q is not supported (tracecontext, baggage or none)", name)
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}

// Enabled reports whether spans are made (and exported).
func (t *Tracing) Enabled() bool { return t != nil && t.enabled }

// ResolverSpans reports whether a span is wanted per resolver.
func (t *Tracing) ResolverSpans() bool { return t.Enabled() && t.resolvers }

// Exporter names the exporter for the start-up summary: none, console,
// otlp/http, otlp/grpc, or custom.
func (t *Tracing) Exporter() string {
	if t == nil {
		return "none"
	}
	return t.exporter
}

// Tracer is the tracer to start spans with; a no-op one when off.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return noop.NewTracerProvider().Tracer(instrumentationName)
	}
	return t.tracer
}

// Extract returns ctx with the trace context the caller sent in h, if any.
func (t *Tracing) Extract(ctx context.Context, h http.Header) context.Context {
	if t == nil || len(h) == 0 {
		return ctx
	}
	// A propagator reads only its fields; most requests carry none, and the
	// propagators' own lookups canonicalize lower-case names, allocating
	// each time.
	if t.fields != nil && !carriesAny(h, t.fields) {
		return ctx
	}
	return t.propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

func carriesAny(h http.Header, names []string) bool {
	for _, n := range names {
		if len(h[n]) > 0 {
			return true
		}
	}
	return false
}

// Inject writes ctx's trace context into h.
func (t *Tracing) Inject(ctx context.Context, h http.Header) {
	if t == nil {
		return
	}
	t.propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// Shutdown flushes spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.shutdown(ctx)
}
