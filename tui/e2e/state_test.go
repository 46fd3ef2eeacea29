package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/data/toyeval"
)

// shippedCheckpoint is the checkpoint the sampling tests use, or a skip when there is none.
func shippedCheckpoint(t *testing.T) string {
	t.Helper()
	ckpt := os.Getenv(CkptEnv)
	if ckpt == "" {
		ckpt = filepath.Join("..", "..", "assets", "lumina-tiny.safetensors")
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Skipf("%s=%s: %v", CkptEnv, ckpt, err)
	}
	abs, _ := filepath.Abs(ckpt)
	return abs
}

// TestTypedSettingsAndRestart types seed 12345 and CFG 7.5 with the keyboard and generates: the kept
// image's sidecar holds both. Then it quits with q and starts again: the prompt and the history are
// back.
func TestTypedSettingsAndRestart(t *testing.T) {
	ckpt := shippedCheckpoint(t)
	bin := buildLumina(t)
	stateHome := t.TempDir()
	command := "env LUMINA_IMAGES=halfblock COLORTERM=truecolor XDG_STATE_HOME='" + stateHome + "' " + bin + " --ckpt '" + ckpt + "'"

	s := startSession(t, 120, 40, command+"; echo LUMINA-EXITED; sleep 30")
	s.waitFor("the sample view", regexp.MustCompile(`Prompt`), 30*time.Second)
	s.text("a red circle")
	s.keys("Escape") // to the settings, on System
	s.keys("Down")   // Seed
	s.keys("Enter")  // type its value
	s.text("12345")
	s.keys("Enter")
	s.keys("Down", "Down", "Down") // Resolution, Steps, CFG scale
	s.keys("e")
	s.text("7.5")
	s.keys("Enter")
	s.waitFor("the typed values", regexp.MustCompile(`(?s)Seed +12345.*CFG scale +7\.5`), 5*time.Second)
	s.keys("g")
	s.waitFor("the timing line", regexp.MustCompile(`NFE \d+ · fwd \d+ · [0-9.]+[µm]?s/step · total [0-9.]+[µm]?s`), 3*time.Minute)

	side := filepath.Join(stateHome, "lumina", "history", "000001.json")
	var sc toyeval.ImageSidecar
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if sc, err = toyeval.ReadImageSidecar(side); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sidecar: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sc.Seed == nil || *sc.Seed != 12345 || sc.Settings["cfg"] != 7.5 || sc.Prompt != "a red circle" {
		t.Errorf("sidecar: seed %v cfg %v prompt %q", sc.Seed, sc.Settings["cfg"], sc.Prompt)
	}

	s.keys("q")
	s.waitFor("the quit", regexp.MustCompile(`LUMINA-EXITED`), 10*time.Second)
	if _, err := os.Stat(filepath.Join(stateHome, "lumina", "state.json")); err != nil {
		t.Fatalf("no state file after quitting: %v", err)
	}

	again := startSession(t, 120, 40, command+"; sleep 30")
	again.waitFor("the restored history", regexp.MustCompile(`History \(1\)`), 30*time.Second)
	pane := again.pane()
	if !strings.Contains(pane, "│ a red circle") || !regexp.MustCompile(`Seed +12345`).MatchString(pane) {
		t.Errorf("the prompt or the seed is not back:\n%s", pane)
	}
	again.keys("C-c")
}
