//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// detach puts the job in a session of its own: the terminal's hang-up and Ctrl-C do not reach it.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }

// interrupt is Ctrl-C for pid: `lumina train` saves a checkpoint and exits.
func interrupt(pid int) error { return syscall.Kill(pid, syscall.SIGINT) }
