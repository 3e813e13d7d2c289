//go:build !linux

package main

import (
	"syscall"
	"time"
)

func childSysProcAttr() *syscall.SysProcAttr { return nil }

func procStatusBytes(field string) int64 { return 0 }

func resetPeakRSS() bool { return false }

func selfCPU() time.Duration { return 0 }

func pidCPU(pid int) time.Duration { return 0 }
