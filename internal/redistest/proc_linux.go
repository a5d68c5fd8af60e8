package redistest

import "syscall"

// sysProcAttr makes the kernel kill the server when the test binary dies
// (a timeout panic, a SIGKILL), so no server outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
