package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// CkptEnv names the checkpoint the test samples from (default: the shipped assets/lumina-tiny.safetensors);
// the test is skipped when there is none.
const CkptEnv = "LUMINA_E2E_CKPT"

// ArgsEnv optionally overrides how the checkpoint is passed to lumina ("--ckpt {}" by default; {} is
// the path).
const ArgsEnv = "LUMINA_E2E_ARGS"

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// buildLumina builds ./cmd/lumina once for the package's tests.
func buildLumina(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "lumina-e2e-")
		if buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "lumina")
		build := []string{"build", "-o", builtBin}
		if strings.Contains(os.Getenv("CGO_LDFLAGS"), "openblas") {
			build = append(build, "-tags", "openblas")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", append(build, "./cmd/lumina")...)
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build lumina: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// sessions numbers the tests' tmux sessions.
var sessions int

// session is a detached tmux session running a command.
type session struct {
	t    *testing.T
	name string
}

// startSession runs command in a new w×h tmux session; the session is killed when the test ends.
func startSession(t *testing.T, w, h int, command string) *session {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	sessions++
	name := fmt.Sprintf("lumina-e2e-%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "-"), os.Getpid(), sessions)
	exec.Command("tmux", "kill-session", "-t", name).Run()
	tmux(t, "new-session", "-d", "-s", name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), command)
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", name).Run() })
	return &session{t: t, name: name}
}

func (s *session) pane() string { return tmux(s.t, "capture-pane", "-p", "-t", s.name) }

// waitFor polls the pane until re matches it, and returns the match's groups.
func (s *session) waitFor(what string, re *regexp.Regexp, d time.Duration) []string {
	s.t.Helper()
	deadline := time.Now().Add(d)
	var pane string
	for time.Now().Before(deadline) {
		pane = s.pane()
		if m := re.FindStringSubmatch(pane); m != nil {
			return m
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("%s did not appear within %v; pane:\n%s", what, d, pane)
	return nil
}

// keys sends tmux key names (Enter, C-r, …) one at a time; text sends literal text. Each send is
// followed by a pause, as a person's typing has: a burst of text and keys in one read can be taken
// for a paste.
func (s *session) keys(k ...string) {
	for _, name := range k {
		tmux(s.t, "send-keys", "-t", s.name, name)
		time.Sleep(150 * time.Millisecond)
	}
}

func (s *session) text(x string) {
	tmux(s.t, "send-keys", "-t", s.name, "-l", x)
	time.Sleep(150 * time.Millisecond)
}

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
	bin := buildLumina(t)
	args := "--ckpt {}"
	if a := os.Getenv(ArgsEnv); a != "" {
		args = a
	}
	args = strings.ReplaceAll(args, "{}", "'"+ckpt+"'")

	session := "lumina-e2e-" + strings.ReplaceAll(t.Name(), "/", "-")
	exec.Command("tmux", "kill-session", "-t", session).Run()
	tmux(t, "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
		"env LUMINA_IMAGES=halfblock COLORTERM=truecolor XDG_STATE_HOME='"+t.TempDir()+"' "+bin+" "+args+"; sleep 30")
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
	pane := waitFor("the timing line", regexp.MustCompile(`NFE \d+ · fwd \d+ · [0-9.]+[µm]?s/step · total [0-9.]+[µm]?s`), 3*time.Minute)
	if strings.Count(pane, "▀") < 20 {
		t.Errorf("no half-block image in the pane:\n%s", pane)
	}
	tmux(t, "send-keys", "-t", session, "C-c")
}
