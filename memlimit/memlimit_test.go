package memlimit

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
)

func TestChoose(t *testing.T) {
	const mib = 1 << 20
	defaults := Options{BodyBudget: 256 * mib, ResponseMemory: 256 * mib} // salesgraph's default budgets
	with := func(change func(*Options)) Options {
		o := defaults
		change(&o)
		return o
	}
	tests := []struct {
		name      string
		opts      Options
		env       map[string]string
		container int64
		want      int64
		source    string
	}{
		{"the budgets and the margin", defaults, nil, 0, 768 * mib, "budgets"},
		{"a roomy container changes nothing", defaults, nil, 4096 * mib, 768 * mib, "budgets"},
		{"90% of a smaller container", defaults, nil, 512 * mib, 512 * mib * 9 / 10, "container"},
		{"budgets as configured", Options{BodyBudget: 100 * mib, ResponseMemory: 50 * mib}, nil, 0, (100 + 50 + 256) * mib, "budgets"},
		{"the cache when it is on", with(func(o *Options) { o.CacheBytes = 64 * mib }), nil, 0, (768 + 64) * mib, "budgets"},
		{"GOMEMLIMIT, as the runtime read it", defaults, map[string]string{"GOMEMLIMIT": "1GiB"}, 512 * mib, 1 << 30, "GOMEMLIMIT"},
		{"the setting over everything", with(func(o *Options) { o.MemoryLimit = 2 << 30 }), map[string]string{"GOMEMLIMIT": "1GiB"}, 512 * mib, 2 << 30, "memory-limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := choose(tt.opts, envMap(tt.env), tt.container, 1<<30)
			assert.Equal(t, tt.want, l.bytes)
			assert.Equal(t, tt.source, l.source)
			assert.Equal(t, tt.container, l.container)
		})
	}
}

func TestContainerLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name string
		fs   fstest.MapFS
		want int64
	}{
		{"cgroup v2, in a namespace", fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("536870912\n"),
		}, 512 << 20},
		{"cgroup v2, its own cgroup", fstest.MapFS{
			"proc/self/cgroup":                           file("0::/kubepods/pod1/ctr\n"),
			"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": file("1073741824\n"),
			"sys/fs/cgroup/memory.max":                   file("max\n"),
		}, 1 << 30},
		{"cgroup v2, no limit", fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("max\n"),
		}, 0},
		{"cgroup v1", fstest.MapFS{
			"proc/self/cgroup": file("5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n"),
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": file("268435456\n"),
		}, 256 << 20},
		{"cgroup v1 in a namespace", fstest.MapFS{
			"proc/self/cgroup":                           file("4:memory:/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("268435456\n"),
		}, 256 << 20},
		{"cgroup v1, no limit", fstest.MapFS{
			"proc/self/cgroup":                           file("4:memory:/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
		}, 0},
		{"no cgroup files", fstest.MapFS{}, 0},
		{"unreadable", fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("lots\n"),
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, containerLimit(tt.fs))
		})
	}
}

// envMap is a getenv reading m.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
