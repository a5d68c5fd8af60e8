package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/telemetry"
)

// monitoringFiles name the metrics an operator's Prometheus and Grafana
// read; deploy/monitoring/metrics.txt lists those names.
var monitoringFiles = []string{"deploy/monitoring/dashboard.json", "deploy/monitoring/alerts.yml"}

// metricName is a metric of ours, the Go runtime's or the process's, as it
// appears in a query or a description.
var metricName = regexp.MustCompile(`\b(?:salesgraph|go|process)_[a-z0-9_]*[a-z0-9]`)

// TestMonitoringNamesExportedMetrics: every metric the dashboard and the
// alert rules name is one salesgraph exports, and metrics.txt lists exactly
// those, so that a renamed metric fails here instead of leaving an empty
// panel or an alert that can never fire.
func TestMonitoringNamesExportedMetrics(t *testing.T) {
	used := map[string][]string{} // name -> files naming it
	for _, f := range monitoringFiles {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, name := range metricName.FindAllString(string(b), -1) {
			if !slices.Contains(used[name], f) {
				used[name] = append(used[name], f)
			}
		}
	}
	listed := map[string]bool{}
	f, err := os.Open("deploy/monitoring/metrics.txt")
	require.NoError(t, err)
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			listed[line] = true
		}
	}

	exported := exportedMetrics(t)
	for name, files := range used {
		if !listed[name] {
			t.Errorf("%v name %s, which deploy/monitoring/metrics.txt does not list", files, name)
		}
	}
	for name := range listed {
		if used[name] == nil {
			t.Errorf("deploy/monitoring/metrics.txt lists %s, which neither the dashboard nor the rules use", name)
		}
		if !exported[name] {
			t.Errorf("UNKNOWN METRIC %s: deploy/monitoring/metrics.txt lists it (used in %v), but salesgraph exports no such metric; rename it in the files, or export it first",
				name, used[name])
		}
	}
}

// exportedMetrics is every series name salesgraph can export: what a
// running server's /metrics shows (collectors registered in run included),
// and what its registry describes (vectors with no series yet included),
// histograms and summaries with their _bucket, _sum and _count.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	add := func(name string, withParts bool) {
		out[name] = true
		if withParts {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[name+s] = true
			}
		}
	}

	base, _ := startServer(t)
	_, body := get(t, base+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			add(f[2], f[3] == "histogram" || f[3] == "summary")
		}
	}

	// The registry describes its collectors whether or not they hold a
	// series; a Desc says its name only in its String.
	tel, err := telemetry.New(context.Background(), telemetry.Options{}, envMap(nil), io.Discard, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer tel.Shutdown(slog.New(slog.DiscardHandler))
	// Registered only when a rate limit is configured, which the test
	// server above does not do.
	tel.Metrics.WatchRateLimitQueues(func() int { return 0 }, func() int { return 0 })
	descs := make(chan *prometheus.Desc)
	go func() {
		tel.Metrics.Registry().Describe(descs)
		close(descs)
	}()
	fqName := regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)
	n := 0
	for d := range descs {
		m := fqName.FindStringSubmatch(d.String())
		require.NotNil(t, m, "a Desc's String no longer starts with its name: %s", d)
		add(m[1], true) // the type is not described: allow the parts of any
		n++
	}
	require.Greater(t, n, 20, "the registry described too few metrics")
	return out
}
