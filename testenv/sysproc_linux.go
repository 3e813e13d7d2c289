package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// slapdSysProcAttr makes the kernel kill slapd if the test process dies
// without running its cleanups (a timeout panic, a kill), so that no slapd
// is left behind.
func slapdSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// stopStateWait bounds how long waitStopState waits for the kernel.
const stopStateWait = 5 * time.Second

// waitStopState waits (polling, up to stopStateWait) until every thread of
// process pid is stopped (state "T" in /proc/PID/task/TID/stat) when stopped
// is true, or until none is when it is false. A signal is delivered
// asynchronously: kill(2) returns before SIGSTOP or SIGCONT has taken effect.
// It gives up early when exited is closed.
func waitStopState(pid int, stopped bool, exited <-chan struct{}) error {
	want := "stopped"
	if !stopped {
		want = "running"
	}
	deadline := time.Now().Add(stopStateWait)
	for {
		states, err := taskStates(pid)
		gone := errors.Is(err, os.ErrNotExist)
		select {
		case <-exited:
			gone = true
		default:
		}
		if gone {
			return fmt.Errorf("wait until process %d is %s: it exited", pid, want)
		}
		if err != nil {
			return fmt.Errorf("wait until process %d is %s: %w", pid, want, err)
		}
		if len(states) > 0 && !slices.ContainsFunc(states, func(st byte) bool { return (st == 'T') != stopped }) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait until process %d is %s: thread states %q after %v", pid, want, states, stopStateWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// taskStates returns the state letter of every thread of process pid, read
// from /proc/PID/task/TID/stat. Threads that exit meanwhile and dead
// (zombie) ones are skipped.
func taskStates(pid int) ([]byte, error) {
	dir := filepath.Join("/proc", fmt.Sprint(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the threads: %w", err)
	}
	var states []byte
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "stat"))
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read a thread's state: %w", err)
		}
		st, err := statState(string(b))
		if err != nil {
			return nil, fmt.Errorf("read thread %s's state: %w", t.Name(), err)
		}
		if st == 'Z' || st == 'X' {
			continue // a dead thread neither stops nor runs
		}
		states = append(states, st)
	}
	return states, nil
}

// statState returns the state field of a /proc stat line,
// "PID (COMM) STATE ...". COMM may itself contain spaces and parentheses.
func statState(stat string) (byte, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) || stat[i+1] != ' ' {
		return 0, fmt.Errorf("malformed stat line %q", stat)
	}
	return stat[i+2], nil
}

// sambaSysProcAttr puts samba in its own process group (Stop signals the
// whole group) and makes the kernel kill it if the test process dies
// without running its cleanups.
func sambaSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }

// lockFile takes an exclusive lock (flock) on path, created if needed,
// waiting for it. unlock releases it.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// tryLockFile is lockFile without waiting: ok is false when another open
// file (in this process or another) holds the lock.
func tryLockFile(path string) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() { f.Close() }, true, nil
}
