package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/ablation"
)

// TestAblateInTmux starts a sweep from the Ablate view on the shipped checkpoint: 2 cells (CFG 4 and 8)
// × the first 2 quick prompts × 1 seed at Euler 10, sees its table fill and finish, and checks that the
// sweep folder under --runs is the one `lumina ablate` writes.
func TestAblateInTmux(t *testing.T) {
	ckpt := shippedCheckpoint(t)
	bin := buildLumina(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	command := "env LUMINA_IMAGES=none XDG_STATE_HOME='" + dir + "/state' " + bin + " --ckpt '" + ckpt + "' --runs '" + runs + "'"
	s := startSession(t, 120, 40, command+"; sleep 30")
	s.waitFor("the sample view", regexp.MustCompile(`Prompt`), 30*time.Second)
	s.keys("M-5") // alt+5: the prompt has the keyboard
	s.waitFor("the Ablate view", regexp.MustCompile(`Grid  space chooses values`), 10*time.Second)
	s.keys("Down", "Left", "Left", "Space", "Right", "Right", "Space")      // steps: 10 instead of 30
	s.keys("Down", "Right", "Space")                                        // cfg: 4 and 8
	s.keys("Down", "Down", "Down", "Down", "Down", "Down", "Down", "Right") // prompts: quick:2
	s.waitFor("the plan", regexp.MustCompile(`images +4 \(2 cells × 2 prompts × 1 seeds\)`), 5*time.Second)
	s.keys("g")
	s.waitFor("the sweep", regexp.MustCompile(`Sweep cfg `), 10*time.Second)
	s.waitFor("the finished sweep", regexp.MustCompile(`Sweep cfg .*finished`), 3*time.Minute)
	s.waitFor("the filled table", regexp.MustCompile(`(?s)#0 +cfg-4 +2/2 +9 .*\d\.\d\d×.*#1 +cfg-8 +2/2 +9 .*\d\.\d\d×`), 10*time.Second)
	sweep := filepath.Join(runs, "sweeps", "cfg")
	rs, err := ablation.ReadAll(sweep)
	if err != nil || len(rs) != 4 {
		t.Fatalf("the sweep folder's results: %d, %v", len(rs), err)
	}
	for _, f := range []string{ablation.GridFile, ablation.SummaryMD, ablation.ParetoFile, ablation.SheetFile("cfg-8")} {
		if _, err := os.Stat(filepath.Join(sweep, f)); err != nil {
			t.Errorf("the sweep folder lacks %s: %v", f, err)
		}
	}
	s.keys("C-c")
}
