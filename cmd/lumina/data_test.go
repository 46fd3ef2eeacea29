package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/world"
)

// luminaRun executes the real root command and returns what it wrote to stdout. Cobra keeps flag values
// between executions in one process, so the subcommand's flags are put back to their defaults first.
func luminaRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := luminaRunStderr(t, args...)
	return out, err
}

// luminaRunStderr is luminaRun that also returns what the command wrote to stderr: warnings, progress.
func luminaRunStderr(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if sub, _, err := rootCmd.Find(args); err == nil {
		sub.Flags().VisitAll(func(f *pflag.Flag) {
			f.Value.Set(f.DefValue)
			f.Changed = false
		})
	}
	var out, errOut bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&errOut)
	rootCmd.SetArgs(args)
	err = rootCmd.Execute()
	return out.String(), errOut.String(), err
}

func TestDataPreviewCmd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sheet.png")
	msg, err := luminaRun(t, "data", "preview", "--n", "3", "--tile", "32", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// Three 32-px tiles in one row: 3·(32+8)+8 wide.
	if img.Bounds().Dx() != 128 || !strings.Contains(msg, "3 tiles") {
		t.Errorf("sheet %v, message %q", img.Bounds(), msg)
	}
}

func TestDataExportImportCmd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "export")
	msg, err := luminaRun(t, "data", "export", "--n", "4", "--res", "16", "--out", dir, "--subset", "10", "--granularity", "short", "--lang", "zh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "exported 4 items") || !strings.Contains(msg, "of 40") {
		t.Errorf("export message %q", msg)
	}
	// The .txt holds the Chinese short caption of the dataset item the file is named after.
	ds, _ := dataset.New(1, 40, world.DefaultSamplerConfig())
	idx, _ := ds.Subset(10)
	want, _ := ds.Caption(idx[0], caption.Short, caption.Zh)
	got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%06d.txt", idx[0])))
	if err != nil || strings.TrimSpace(string(got)) != want {
		t.Errorf("caption file %q, want %q (%v)", got, want, err)
	}

	msg, err = luminaRun(t, "data", "import", "--dir", dir, "--res", "8")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"4 images", "layout imagefolder", "8×8", "16..16 × 16..16", "4 items carry a lumina scene"} {
		if !strings.Contains(msg, s) {
			t.Errorf("import summary lacks %q:\n%s", s, msg)
		}
	}
	// A second export into the same folder needs --force.
	if _, err := luminaRun(t, "data", "export", "--n", "1", "--res", "16", "--out", dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a full folder: %v", err)
	}
	if _, err := luminaRun(t, "data", "export", "--n", "1", "--res", "16", "--out", dir, "--force"); err != nil {
		t.Errorf("--force: %v", err)
	}
	// A broken image in the folder is refused by name.
	os.WriteFile(filepath.Join(dir, "zz.png"), []byte("garbage"), 0o644)
	os.WriteFile(filepath.Join(dir, "zz.txt"), []byte("x"), 0o644)
	if _, err := luminaRun(t, "data", "import", "--dir", dir); err == nil || !strings.Contains(err.Error(), "zz.png") {
		t.Errorf("broken image: %v", err)
	}
}

// Bad flags are refused before any work, with the flag's name and range in the message.
func TestDataFlagValidation(t *testing.T) {
	tmp := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"data", "preview", "--n", "0", "--out", filepath.Join(tmp, "a.png")}, "--n 0 outside 1..64"},
		{[]string{"data", "preview", "--tile", "17", "--out", filepath.Join(tmp, "a.png")}, "--tile 17 must be even and in 16..256"},
		{[]string{"data", "preview", "--granularity", "huge", "--out", filepath.Join(tmp, "a.png")}, "--granularity"},
		{[]string{"data", "preview", "--out", filepath.Join(tmp, "a.jpg")}, "--out"},
		{[]string{"data", "preview", "--cols", "-2", "--out", filepath.Join(tmp, "a.png")}, "--cols -2"},
		{[]string{"data", "export", "--n", "0", "--out", tmp}, "--n 0 outside 1..1000000"},
		{[]string{"data", "export", "--res", "8", "--out", tmp}, "--res 8 outside 16..256"},
		{[]string{"data", "export", "--subset", "0", "--out", tmp}, "--subset 0 outside (0, 100]"},
		{[]string{"data", "export", "--n", "50", "--subset", "10", "--pool", "100", "--out", tmp}, "--pool 100"},
		{[]string{"data", "export", "--lang", "fr", "--out", tmp}, "--lang"},
		{[]string{"data", "export"}, "--out is required"},
		{[]string{"data", "import"}, "--dir is required"},
		{[]string{"data", "import", "--dir", tmp, "--res", "4"}, "--res 4 outside 8..1024"},
		{[]string{"data", "import", "--dir", filepath.Join(tmp, "missing")}, "missing"},
	}
	for _, c := range cases {
		_, err := luminaRun(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
	// Nothing was written by the refused commands.
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("refused commands wrote %d files", len(ents))
	}
}

func TestDataHelp(t *testing.T) {
	for _, sub := range []string{"preview", "export", "import"} {
		msg, err := luminaRun(t, "data", sub, "--help")
		if err != nil || !strings.Contains(msg, "Usage:") || !strings.Contains(msg, "Examples:") {
			t.Errorf("%s --help: %v\n%s", sub, err, msg)
		}
	}
}
