//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package train

import "os"

// processAlive has no signal 0 to send on this platform: FindProcess tells what it can.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}

// holdsLock cannot tell on this platform, where the lock file is only a record.
func holdsLock(string, int) bool { return true }
