package sampleview

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"

	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/history"
)

// SamplesDir is the folder, inside the runs folder, that s saves images in.
const SamplesDir = "samples"

// DefaultOutDir is where saved images go for runs folder runs ("" is ./runs, lumina's default).
func DefaultOutDir(runs string) string {
	if runs == "" {
		runs = "runs"
	}
	return filepath.Join(runs, SamplesDir)
}

// SetOutDir makes s save images in dir.
func (m *Model) SetOutDir(dir string) { m.outDir = dir }

// exportedMsg says where s saved the selected image.
type exportedMsg struct {
	path string
	err  error
}

// saveSelected writes the selected image, off the UI goroutine, as `lumina sample` would have.
func (m *Model) saveSelected() tea.Cmd {
	sel, ok := m.hist.Selected()
	if !ok {
		m.err = "no image to save yet"
		return nil
	}
	dir, ckpt := m.outDir, m.info.Checkpoint
	return func() tea.Msg {
		p, err := Export(dir, sel, ckpt)
		return exportedMsg{path: p, err: err}
	}
}

// Export writes e as dir/sample-NNNNNN-seedS.png with its sidecar beside it, the pair `lumina sample`
// writes (checkpoint included), each atomically. An existing file is never replaced: a numbered name
// is taken instead. It returns the PNG's path.
func Export(dir string, e history.Entry, ckpt string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("save image: %w", err)
	}
	sc := e.Gen.Sidecar
	if sc.Settings == nil {
		sc = infer.NewSidecar(e.Gen.Spec, e.Gen.Result)
	}
	// The history's copy of the sidecar stays as it was.
	sc.Settings = maps.Clone(sc.Settings)
	if ckpt != "" {
		sc.Settings["checkpoint"] = ckpt
	}
	stem := fmt.Sprintf("sample-%06d-seed%d", e.ID, e.Gen.Spec.Options.Seed)
	base := filepath.Join(dir, stem)
	for i := 2; exists(base+".png") || exists(base+".json"); i++ {
		base = filepath.Join(dir, fmt.Sprintf("%s-%d", stem, i))
	}
	if err := dataset.WritePNG(base+".png", e.Gen.Image); err != nil {
		return "", err
	}
	if err := toyeval.WriteImageSidecar(base+".json", sc); err != nil {
		return "", err
	}
	return base + ".png", nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// copyCommand puts the `lumina sample` line that remakes the selected image (or, before the first,
// the one the settings describe) on the clipboard through OSC 52, which reaches the local clipboard
// over SSH too.
func (m *Model) copyCommand() tea.Cmd {
	spec := m.Spec()
	if sel, ok := m.hist.Selected(); ok {
		spec = sel.Gen.Spec
	}
	if spec.Prompt == "" {
		m.err = "the prompt is empty: nothing to copy"
		return nil
	}
	line := infer.SampleCommandLine(spec, m.info.Checkpoint, "")
	return tea.Batch(tea.SetClipboard(line), common.Status("copied to the clipboard: "+line, false))
}
