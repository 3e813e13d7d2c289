package testenv

import "syscall"

// slapdSysProcAttr makes the kernel kill slapd if the test process dies
// without running its cleanups (a timeout panic, a kill), so that no slapd
// is left behind.
func slapdSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
