//go:build !otlpgrpc

package observe

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOTLPGRPCNeedsItsBuildTag: asking for gRPC from a binary built
// without it stops the start with what to do instead.
func TestOTLPGRPCNeedsItsBuildTag(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
	_, err := TracingFromEnv(context.Background(), envOf(env), io.Discard, nil, "test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-tags otlpgrpc")
	assert.Contains(t, err.Error(), "http/protobuf")
}
