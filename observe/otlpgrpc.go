//go:build otlpgrpc

package observe

import (
	"context"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newOTLPGRPCExporter is OpenTelemetry's OTLP/gRPC exporter, configured
// from the process environment. It is built in only with -tags otlpgrpc:
// gRPC is a tenth of a first build's compile time, and OTLP/HTTP, the
// default, reaches the same collectors.
func newOTLPGRPCExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	return otlptracegrpc.New(ctx)
}
