//go:build unix

package connlimit

import "syscall"

// openFileLimit is the process's soft limit on open files, which every
// connection counts against; the Go runtime has already raised it to the
// hard limit at start-up. An unlimited (or as good as) limit reports none.
func openFileLimit() (int, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0, false
	}
	return int(rl.Cur), true
}
