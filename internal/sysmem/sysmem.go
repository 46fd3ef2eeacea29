// Package sysmem reads how much memory the machine can give a new allocation, so that work too large
// for it is refused before it starts.
package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// Available is the memory the kernel estimates can be allocated without swapping (MemAvailable in
// /proc/meminfo), in bytes; ok is false where that is not known (another OS, a restricted /proc).
func Available() (bytes int64, ok bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	return parseMemAvailable(b)
}

func parseMemAvailable(meminfo []byte) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemAvailable:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil || kb < 0 {
				return 0, false
			}
			if len(f) >= 3 && string(f[2]) != "kB" {
				return 0, false
			}
			return kb << 10, true
		}
	}
	return 0, false
}
