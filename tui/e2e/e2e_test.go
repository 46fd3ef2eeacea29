package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// CkptEnv names the checkpoint the test samples from (default: the shipped assets/lumina-tiny.safetensors);
// the test is skipped when there is none.
const CkptEnv = "LUMINA_E2E_CKPT"

// ArgsEnv optionally overrides how the checkpoint is passed to lumina ("--ckpt {}" by default; {} is
// the path).
const ArgsEnv = "LUMINA_E2E_ARGS"

func tmux(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("tmux", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestSampleInTmux builds ./cmd/lumina, starts it in a detached 120×40 tmux session on the checkpoint
// in $LUMINA_E2E_CKPT, types a prompt, generates, and checks the captured pane for the timing line
// and half-block image cells.
func TestSampleInTmux(t *testing.T) {
	ckpt := os.Getenv(CkptEnv)
	if ckpt == "" {
		// The shipped checkpoint, which `make run` opens too.
		ckpt = filepath.Join("..", "..", "assets", "lumina-tiny.safetensors")
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Skipf("%s=%s: %v", CkptEnv, ckpt, err)
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	ckpt, _ = filepath.Abs(ckpt)
	bin := filepath.Join(t.TempDir(), "lumina")
	build := []string{"build", "-o", bin}
	if strings.Contains(os.Getenv("CGO_LDFLAGS"), "openblas") {
		build = append(build, "-tags", "openblas")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(build, "./cmd/lumina")...)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build lumina: %v\n%s", err, out)
	}
	args := "--ckpt {}"
	if a := os.Getenv(ArgsEnv); a != "" {
		args = a
	}
	args = strings.ReplaceAll(args, "{}", "'"+ckpt+"'")

	session := "lumina-e2e-" + strings.ReplaceAll(t.Name(), "/", "-")
	exec.Command("tmux", "kill-session", "-t", session).Run()
	tmux(t, "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
		"env LUMINA_IMAGES=halfblock COLORTERM=truecolor "+bin+" "+args+"; sleep 30")
	defer exec.Command("tmux", "kill-session", "-t", session).Run()

	waitFor := func(what string, re *regexp.Regexp, d time.Duration) string {
		t.Helper()
		deadline := time.Now().Add(d)
		var pane string
		for time.Now().Before(deadline) {
			pane = tmux(t, "capture-pane", "-p", "-t", session)
			if re.MatchString(pane) {
				return pane
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s did not appear within %v; pane:\n%s", what, d, pane)
		return ""
	}
	waitFor("the sample view", regexp.MustCompile(`Prompt`), 30*time.Second)
	tmux(t, "send-keys", "-t", session, "-l", "a red circle")
	tmux(t, "send-keys", "-t", session, "C-r")
	pane := waitFor("the timing line", regexp.MustCompile(`NFE \d+ · [0-9.]+[µm]?s/step · total [0-9.]+[µm]?s`), 3*time.Minute)
	if strings.Count(pane, "▀") < 20 {
		t.Errorf("no half-block image in the pane:\n%s", pane)
	}
	tmux(t, "send-keys", "-t", session, "C-c")
}
