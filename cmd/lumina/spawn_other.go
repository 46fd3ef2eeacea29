//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// detach has no sessions to use on this platform: the job is an ordinary child.
func detach(*exec.Cmd) {}

// interrupt asks pid to stop as Ctrl-C would, where the platform can.
func interrupt(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(os.Interrupt)
}
