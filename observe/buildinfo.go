package observe

import (
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Build is what a binary says of how it was built: its module's path and
// version, the version control revision and time it was built from, and
// the Go toolchain and platform. Go records all of it at build time
// (debug.ReadBuildInfo); the revision only when built from a checkout with
// VCS stamping on (go build's default; -buildvcs=false turns it off).
type Build struct {
	Path      string // module path
	Version   string // module version: a tag, a pseudo-version, or (devel)
	Sum       string // module checksum; empty when built from a checkout
	Revision  string // commit; empty when not stamped
	Time      string // commit time, RFC 3339; empty when not stamped
	Modified  bool   // the checkout had uncommitted changes
	GoVersion string // e.g. go1.26.8
	Platform  string // GOOS/GOARCH
}

// ReadBuild is this binary's Build.
func ReadBuild() Build {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return buildFrom(bi)
}

// buildFrom reads a Build out of bi; nil gives what the runtime alone
// knows.
func buildFrom(bi *debug.BuildInfo) Build {
	b := Build{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return b
	}
	b.Path, b.Sum = bi.Main.Path, bi.Main.Sum
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goarch != "" {
		b.Platform = goos + "/" + goarch
	}
	return b
}

// String is the one line -version prints, e.g.
//
//	salesgraph v1.4.0 (github.com/salesgraph/salesgraph, revision 27509ff…, 2026-12-06T21:40:11Z) go1.26.8 linux/amd64
//
// with "modified" after the time when the checkout had uncommitted
// changes, and "revision unknown" when none was stamped.
func (b Build) String() string {
	var s strings.Builder
	s.WriteString("salesgraph " + b.Version + " (")
	if b.Path != "" {
		s.WriteString(b.Path + ", ")
	}
	if b.Revision == "" {
		s.WriteString("revision unknown")
	} else {
		s.WriteString("revision " + b.Revision)
		if b.Time != "" {
			s.WriteString(", " + b.Time)
		}
		if b.Modified {
			s.WriteString(", modified")
		}
	}
	s.WriteString(") " + b.GoVersion + " " + b.Platform)
	return s.String()
}

// collector is go_build_info, labelled with what String prints: client
// golang's own (path, version, checksum) had no revision, so every build
// from a checkout looked the same, "(devel)".
func (b Build) collector() prometheus.Collector {
	modified := "false"
	if b.Modified {
		modified = "true"
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "go_build_info",
		Help: "Build information about the main Go module: its path, version and checksum, the VCS revision, its time and whether the checkout was modified, and the Go version. Always 1.",
		ConstLabels: prometheus.Labels{
			"path": b.Path, "version": b.Version, "checksum": b.Sum,
			"revision": b.Revision, "revision_time": b.Time, "modified": modified,
			"goversion": b.GoVersion,
		},
	}, func() float64 { return 1 })
}
