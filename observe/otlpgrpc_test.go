//go:build otlpgrpc

package observe

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOTLPGRPCWithItsBuildTag: built with -tags otlpgrpc (as CI runs it),
// OTEL_EXPORTER_OTLP_PROTOCOL=grpc gets OpenTelemetry's gRPC exporter.
func TestOTLPGRPCWithItsBuildTag(t *testing.T) {
	env := map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
	tr, err := TracingFromEnv(context.Background(), envOf(env), io.Discard, nil, "test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	assert.Equal(t, "otlp/grpc", tr.Exporter())
	assert.True(t, tr.Enabled())
}
