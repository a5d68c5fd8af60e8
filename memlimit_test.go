package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunSetsTheMemoryLimit: run sets the Go runtime's memory limit while
// it serves, logs it, and puts back the one there was when it returns.
func TestRunSetsTheMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	s := launch(t, "-log-level", "info", "-memory-limit", "999999744")
	assert.Equal(t, int64(999999744), debug.SetMemoryLimit(-1))
	line := s.logLine("memory limit")
	require.NotNil(t, line, s.logs.String())
	assert.EqualValues(t, 999999744, line["bytes"])
	assert.Equal(t, "memory-limit", line["source"])
	require.NoError(t, s.stop())
	assert.Equal(t, before, debug.SetMemoryLimit(-1), "put back")

	s = launch(t, "-log-level", "info")
	line = s.logLine("memory limit")
	require.NotNil(t, line, s.logs.String())
	limit := debug.SetMemoryLimit(-1)
	assert.EqualValues(t, limit, line["bytes"])
	assert.EqualValues(t, 512<<20, line["budgets"], "the default budgets")
	if line["source"] == "budgets" {
		assert.Equal(t, int64(768<<20), limit)
	} else {
		assert.Equal(t, "container", line["source"], "this machine's container is smaller")
		assert.Less(t, limit, int64(768<<20))
	}
	assert.Less(t, limit, int64(math.MaxInt64))
	require.NoError(t, s.stop())
	assert.Equal(t, before, debug.SetMemoryLimit(-1))

	// The cache's bytes count with the cache on.
	s = launch(t, "-log-level", "info", "-cache-ttl", "30s", "-cache-max-bytes", "1048576")
	line = s.logLine("memory limit")
	require.NotNil(t, line, s.logs.String())
	assert.EqualValues(t, 512<<20+1<<20, line["budgets"], "the default budgets and the cache")
	require.NoError(t, s.stop())
}
