//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package train

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// processAlive reports whether pid names a process on this host (one owned by another user counts).
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// holdsLock reports whether a lock on path, or one taken by pid, is listed in /proc/locks; a process
// that outlived its lock is a recycled PID. Where /proc/locks cannot be read, only the PID is known,
// and the answer is yes.
func holdsLock(path string, pid int) bool {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return true
	}
	defer f.Close()
	var ino uint64
	if st, err := os.Stat(path); err == nil {
		if s, ok := st.Sys().(*syscall.Stat_t); ok {
			ino = uint64(s.Ino)
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 4242 fe:00:10126423 0 EOF"; a waiter's line has "->" after the number.
		fields := strings.Fields(sc.Text())
		for i := 0; i+4 < len(fields); i++ {
			if fields[i] != "FLOCK" {
				continue
			}
			p, _ := strconv.Atoi(fields[i+3])
			dev := strings.Split(fields[i+4], ":")
			n, _ := strconv.ParseUint(dev[len(dev)-1], 10, 64)
			if p == pid || (ino != 0 && n == ino) {
				return true
			}
		}
	}
	return sc.Err() != nil
}
