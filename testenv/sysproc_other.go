//go:build !linux

package testenv

import (
	"errors"
	"syscall"
	"time"
)

// slapdSysProcAttr: only Linux has a parent-death signal.
func slapdSysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopState: without /proc there is no portable way to read whether a
// process is stopped, so it gives the signal a moment to take effect.
func waitStopState(pid int, stopped bool, exited <-chan struct{}) error {
	select {
	case <-exited:
	case <-time.After(200 * time.Millisecond):
	}
	return nil
}

// sambaSysProcAttr: Samba AD tests run on Linux only.
func sambaSysProcAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, sig syscall.Signal) error { return errSambaLinuxOnly }

func lockFile(path string) (func(), error) { return nil, errSambaLinuxOnly }

func tryLockFile(path string) (func(), bool, error) { return nil, false, errSambaLinuxOnly }

var errSambaLinuxOnly = errors.New("testenv: samba: Linux only")
