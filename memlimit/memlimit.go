// Package memlimit sets the Go runtime's soft memory limit
// (runtime/debug.SetMemoryLimit) from salesgraph's configuration, once, as
// the process starts.
//
// The budgets bound what requests hold (upstream bodies and the records
// decoded from them, responses being built), but not what the garbage
// collector lets the heap grow to: by default it waits for the heap to
// double since the last collection, so a process holding 500 MiB may reach
// 1 GiB of memory before collecting. A memory limit makes it collect
// sooner instead, as the heap approaches the limit. The limit is:
//
//   - -memory-limit, when set;
//   - else GOMEMLIMIT, when the environment sets it (applied by the Go
//     runtime itself as the process starts; GOMEMLIMIT=off turns it off);
//   - else the budgets and a margin, -upstream-body-budget +
//     -max-response-memory (+ -cache-max-bytes with the cache on) +
//     memoryHeadroom, and at most 90% of the container's memory limit
//     (cgroup v2 memory.max or v1 memory.limit_in_bytes), when there is one.
//
// It knows the settings by their values, in Options: package main, the one
// reader of the configuration, hands them over.
//
// A limit below what the process really holds would have the collector run
// back to back: that is why it is derived from the budgets, which refuse
// work (UPSTREAM_MEMORY_LIMIT, RESPONSE_MEMORY_BUDGET_EXCEEDED) before what
// requests hold gets there, rather than set to a guess; why GOGC is left
// as it is, so that below the limit collection runs as usual; and, should
// the heap still reach the limit, the runtime caps the collector at about
// half the CPU, so that the process slows down rather than stalls.
package memlimit

import (
	"bufio"
	"bytes"
	"io/fs"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// Options are the settings the limit is chosen from, in bytes.
type Options struct {
	MemoryLimit    int64 // -memory-limit; 0: not set
	BodyBudget     int64 // -upstream-body-budget
	ResponseMemory int64 // -max-response-memory
	CacheBytes     int64 // -cache-max-bytes when the cache is on, else 0
}

// memoryHeadroom is what the derived limit allows beyond the budgets: the
// runtime, connections, caches of parsed documents, the objects of a
// response written before it is marshalled, and garbage not yet collected.
const memoryHeadroom = 256 << 20

// containerShare is the part of the container's limit the Go runtime may
// use: the rest is for what it does not count (the executable, C memory)
// and for a collection to finish before the kernel's OOM killer acts.
const containerShare = 0.9

// limit is the limit chosen and why.
type limit struct {
	bytes     int64  // math.MaxInt64: none
	source    string // "memory-limit", "GOMEMLIMIT", "budgets" or "container"
	budgets   int64  // what the budgets add up to
	container int64  // the container's limit; 0: none found
}

// choose picks the limit for o (see the package doc); current is the
// runtime's limit now, which GOMEMLIMIT set if it is in the environment.
func choose(o Options, getenv func(string) string, container, current int64) limit {
	budgets := o.BodyBudget + o.ResponseMemory + o.CacheBytes
	l := limit{budgets: budgets, container: container}
	switch {
	case o.MemoryLimit > 0:
		l.bytes, l.source = o.MemoryLimit, "memory-limit"
	case getenv("GOMEMLIMIT") != "":
		l.bytes, l.source = current, "GOMEMLIMIT"
	default:
		l.bytes, l.source = budgets+memoryHeadroom, "budgets"
		if share := int64(float64(container) * containerShare); container > 0 && share < l.bytes {
			l.bytes, l.source = share, "container"
		}
	}
	return l
}

// Set applies the limit o calls for and logs it. getenv reads
// GOMEMLIMIT, and root is the file system's root, where the container's
// limit is read (os.DirFS("/")). restore puts back the limit there was,
// for a process (a test) that starts the server again.
func Set(o Options, getenv func(string) string, root fs.FS, log *slog.Logger) (restore func()) {
	previous := debug.SetMemoryLimit(-1)
	l := choose(o, getenv, containerLimit(root), previous)
	debug.SetMemoryLimit(l.bytes)
	attrs := []any{"bytes", l.bytes, "source", l.source, "budgets", l.budgets}
	if l.bytes == math.MaxInt64 {
		attrs[1] = "none"
	}
	if l.container > 0 {
		attrs = append(attrs, "container", l.container)
	}
	log.Info("memory limit", attrs...)
	if l.bytes < l.budgets {
		log.Warn("the memory limit is below what the budgets allow to be held: lower upstream-body-budget or max-response-memory, or the collector may run without pause under load",
			"memoryLimit", l.bytes, "budgets", l.budgets)
	}
	return func() { debug.SetMemoryLimit(previous) }
}

// containerLimit is the memory limit of the cgroup this process runs
// in, read from root (the file system's root: /proc and /sys), or 0 when
// there is none. It reads the cgroup the process belongs to, as
// /proc/self/cgroup names it, under the usual mount points (cgroup v1's
// memory controller at /sys/fs/cgroup/memory, v2 at /sys/fs/cgroup), then
// the root of those, which is the container's own in a cgroup namespace.
func containerLimit(root fs.FS) int64 {
	self, err := fs.ReadFile(root, "proc/self/cgroup")
	if err != nil {
		return 0
	}
	var files []string
	sc := bufio.NewScanner(bytes.NewReader(self))
	for sc.Scan() {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		dir := strings.Trim(parts[2], "/")
		switch {
		case parts[0] == "0" && parts[1] == "":
			files = append(files, joinPath("sys/fs/cgroup", dir, "memory.max"), "sys/fs/cgroup/memory.max")
		case containsWord(parts[1], "memory"):
			// v1 first: on a host with both, the v2 tree has no memory
			// controller.
			files = append([]string{joinPath("sys/fs/cgroup/memory", dir, "memory.limit_in_bytes"), "sys/fs/cgroup/memory/memory.limit_in_bytes"}, files...)
		}
	}
	for _, f := range files {
		b, err := fs.ReadFile(root, f)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 { // v1 writes "none" as about MaxInt64
			return 0
		}
		return n
	}
	return 0
}

func joinPath(base, dir, file string) string {
	if dir == "" {
		return base + "/" + file
	}
	return base + "/" + dir + "/" + file
}

func containsWord(list, word string) bool {
	for w := range strings.SplitSeq(list, ",") {
		if w == word {
			return true
		}
	}
	return false
}
