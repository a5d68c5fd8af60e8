//go:build unix

package graph_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the test process has used, user and system.
// Benchmarks report it per operation because, on a shared machine, it
// varies far less than wall time with what else is running.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
