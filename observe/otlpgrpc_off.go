//go:build !otlpgrpc

package observe

import (
	"context"
	"errors"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newOTLPGRPCExporter refuses: this binary was built without gRPC (see
// otlpgrpc.go), and a setting that cannot be honoured stops the start.
func newOTLPGRPCExporter(context.Context) (sdktrace.SpanExporter, error) {
	return nil, errors.New("this binary was built without the OTLP/gRPC exporter: use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (the default; collectors listen on 4318), or build with -tags otlpgrpc")
}
