//go:build !linux

package testenv

import "syscall"

// slapdSysProcAttr: only Linux has a parent-death signal.
func slapdSysProcAttr() *syscall.SysProcAttr { return nil }
