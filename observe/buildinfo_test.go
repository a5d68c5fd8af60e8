package observe

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stamped is what go build records for a binary built from a modified
// checkout with VCS stamping on.
var stamped = &debug.BuildInfo{
	GoVersion: "go1.26.8",
	Main:      debug.Module{Path: "github.com/salesgraph/salesgraph", Version: "v0.0.0-20261206214011-27509ff0a1b2+dirty"},
	Settings: []debug.BuildSetting{
		{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "27509ff0a1b2c3d4e5f60718293a4b5c6d7e8f90"},
		{Key: "vcs.time", Value: "2026-12-06T21:40:11Z"},
		{Key: "vcs.modified", Value: "true"},
	},
}

func TestBuildSaysRevisionTimeAndGo(t *testing.T) {
	b := buildFrom(stamped)
	assert.Equal(t, "salesgraph v0.0.0-20261206214011-27509ff0a1b2+dirty (github.com/salesgraph/salesgraph, revision 27509ff0a1b2c3d4e5f60718293a4b5c6d7e8f90, 2026-12-06T21:40:11Z, modified) go1.26.8 linux/arm64", b.String())

	unstamped := buildFrom(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/salesgraph/salesgraph"}})
	assert.Equal(t, "salesgraph (devel) (github.com/salesgraph/salesgraph, revision unknown) go1.26.8 "+runtime.GOOS+"/"+runtime.GOARCH, unstamped.String())
}

// TestBuildInfoMetricIsLabelledAsVersionSays: go_build_info carries what
// -version prints; client_golang's had neither revision nor time.
func TestBuildInfoMetricIsLabelledAsVersionSays(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(buildFrom(stamped).collector())
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 1)
	assert.Equal(t, "go_build_info", mfs[0].GetName())
	labels := map[string]string{}
	for _, l := range mfs[0].GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	assert.Equal(t, map[string]string{
		"path": "github.com/salesgraph/salesgraph", "version": "v0.0.0-20261206214011-27509ff0a1b2+dirty", "checksum": "",
		"revision": "27509ff0a1b2c3d4e5f60718293a4b5c6d7e8f90", "revision_time": "2026-12-06T21:40:11Z", "modified": "true",
		"goversion": "go1.26.8",
	}, labels)
	assert.Equal(t, 1.0, mfs[0].GetMetric()[0].GetGauge().GetValue())
}
