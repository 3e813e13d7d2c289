package testenv

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestStatState(t *testing.T) {
	for line, want := range map[string]byte{
		"42 (slapd) T 1 42 42 0":    'T',
		"42 (a) (b) c) S 1 42 42 0": 'S',
		"42 (sl apd) R 1":           'R',
	} {
		if got, err := statState(line); err != nil || got != want {
			t.Errorf("statState(%q) = %q, %v, want %q", line, got, err, want)
		}
	}
	for _, bad := range []string{"", "42 (slapd", "42 (slapd)"} {
		if _, err := statState(bad); err == nil {
			t.Errorf("statState(%q) worked", bad)
		}
	}
}

// TestWaitStopState stops and resumes a child process and waits for each.
func TestWaitStopState(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("start sleep: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill(); <-exited }()
	pid := cmd.Process.Pid

	check := func(stopped bool) {
		t.Helper()
		states, err := taskStates(pid)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(states), "T"); got != stopped {
			t.Fatalf("thread states %q, want stopped=%v", states, stopped)
		}
	}
	for range 3 {
		if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		if err := waitStopState(pid, true, exited); err != nil {
			t.Fatal(err)
		}
		check(true)
		if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		if err := waitStopState(pid, false, exited); err != nil {
			t.Fatal(err)
		}
		check(false)
	}

	// A process that exits ends the wait with an error.
	_ = cmd.Process.Kill()
	if err := waitStopState(pid, true, exited); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("wait on an exited process: %v", err)
	}
}
