package tui

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoGorgonia guards the layering rule: nothing under tui reaches Gorgonia, directly or through
// another package.
func TestNoGorgonia(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "gorgonia") {
			t.Errorf("the tui tree depends on %s", p)
		}
	}
}
