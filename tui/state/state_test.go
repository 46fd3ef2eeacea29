package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/tui/internal/fake"
)

func TestDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"}, "/s/lumina"},
		{map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/h"}, "/h/.local/state/lumina"},
		{map[string]string{"HOME": "/h"}, "/h/.local/state/lumina"},
		{map[string]string{}, ""},
	} {
		if got := Dir(env(c.env)); got != filepath.FromSlash(c.want) && !(c.want == "" && got == "") {
			t.Errorf("Dir(%v) = %q, want %q", c.env, got, c.want)
		}
	}
}

// State saved is state loaded; a missing file is a quiet first start, a corrupt or foreign one is
// ignored with a notice that names it, and saving replaces it.
func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lumina")
	if st, notice := Load(dir); notice != "" || st.Prompt != "" {
		t.Errorf("first start: %+v %q", st, notice)
	}
	want := State{Prompt: "a red circle", Page: 2, Settings: []Field{{Label: "Seed", Value: 12345}, {Label: "Solver", Choice: "fdpm"}, {Label: "Renorm", Value: 1, On: true}}}
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	got, notice := Load(dir)
	if notice != "" || got.Prompt != want.Prompt || got.Page != 2 || len(got.Settings) != 3 || got.Settings[0].Value != 12345 || got.Settings[1].Choice != "fdpm" || !got.Settings[2].On {
		t.Errorf("loaded %+v %q", got, notice)
	}
	for _, bad := range []string{"{not json", `{"version": 99, "prompt": "x"}`} {
		if err := os.WriteFile(filepath.Join(dir, File), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		st, notice := Load(dir)
		if st.Prompt != "" || !strings.Contains(notice, "state not restored") || !strings.Contains(notice, File) {
			t.Errorf("%q: %+v, notice %q", bad, st, notice)
		}
	}
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	if st, notice := Load(dir); notice != "" || st.Prompt != want.Prompt {
		t.Errorf("after saving over a corrupt file: %+v %q", st, notice)
	}
}

// Sampled images come back in order with their settings and timings; one whose sidecar is lost is
// left out with a notice.
func TestHistory(t *testing.T) {
	dir := t.TempDir()
	s := fake.NewSampler()
	var paths []string
	for i, seed := range []uint64{12345, 7, 9} {
		spec := infer.Spec{Prompt: "a red circle", Width: 16, Height: 16, Options: infer.DefaultSampleOptions()}
		spec.Options.Seed, spec.Options.CFG = seed, 7.5
		g, err := s.Sample(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		p, err := SaveImage(dir, i+1, g)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if err := os.Remove(strings.TrimSuffix(paths[2], ".png") + ".json"); err != nil {
		t.Fatal(err)
	}
	imgs, notices := LoadHistory(dir)
	if len(imgs) != 2 || imgs[0].ID != 1 || imgs[1].ID != 2 || NextID(imgs) != 3 {
		t.Fatalf("history %+v", imgs)
	}
	g := imgs[0].Gen
	if g.Spec.Options.Seed != 12345 || g.Spec.Options.CFG != 7.5 || g.Spec.Prompt != "a red circle" || g.Image.Bounds().Dx() != 16 {
		t.Errorf("image 1: %+v", g.Spec)
	}
	if g.Result.NFE != infer.DefaultSampleOptions().NFE() || g.Result.Total != time.Duration(len(g.Result.Steps))*s.StepWall {
		t.Errorf("timings: %+v", g.Result)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "000003.png") {
		t.Errorf("notices %q", notices)
	}
}
