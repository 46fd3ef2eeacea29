package sysmem

import "testing"

func TestParseMemAvailable(t *testing.T) {
	const info = "MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:   12288000 kB\nBuffers:  10 kB\n"
	if got, ok := parseMemAvailable([]byte(info)); !ok || got != 12288000<<10 {
		t.Errorf("MemAvailable = %d, %v; want %d", got, ok, int64(12288000)<<10)
	}
	for _, bad := range []string{"", "MemTotal: 10 kB\n", "MemAvailable: lots kB\n", "MemAvailable: 10 MB\n", "MemAvailable: -5 kB\n"} {
		if got, ok := parseMemAvailable([]byte(bad)); ok {
			t.Errorf("%q parsed as %d", bad, got)
		}
	}
	if b, ok := Available(); ok && b <= 0 {
		t.Errorf("this machine reports %d bytes available", b)
	}
}
