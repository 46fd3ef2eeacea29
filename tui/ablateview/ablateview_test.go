package ablateview

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/internal/drive"
	"github.com/lumina-workbench/lumina/tui/internal/fake"
	"github.com/lumina-workbench/lumina/tui/internal/golden"
	"github.com/lumina-workbench/lumina/tui/termcap"
)

const root = "runs/sweeps"

func newView(t *testing.T, w, h int, dark bool) (*Model, *fake.Sweeper) {
	t.Helper()
	c := common.New()
	c.Styles.SetDark(dark)
	sw := fake.NewSweeper(root)
	m := New(c, sw)
	m.SetSize(w, h)
	return m, sw
}

func (m *Model) upd(msg tea.Msg) tea.Cmd {
	_, cmd := m.Update(msg)
	return cmd
}

func press(t *testing.T, m *Model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		drive.Settle(t, m.upd, m.upd(drive.Key(k)))
	}
}

// choose moves the cursor to value v of row key and chooses it.
func choose(t *testing.T, m *Model, key, v string) {
	t.Helper()
	r := rowOf(t, m.setup, key)
	i := slices.Index(m.setup.Rows[r].Values, v)
	if i < 0 {
		t.Fatalf("%s has no value %s", key, v)
	}
	m.row, m.col = r, i
	if m.setup.Rows[r].Single {
		m.setup.Toggle(r, i) // a one-value row cycles; tests pick the value directly
		return
	}
	press(t, m, "space")
}

// tinyGrid chooses 2 cells (cfg 4 and 8) × the first 2 prompts × 1 seed.
func tinyGrid(t *testing.T, m *Model) {
	t.Helper()
	choose(t, m, "cfg", "8")
	choose(t, m, "prompts", "quick:2")
}

// writeSweep writes a sweep folder as the engine would, with made of its images recorded (in the
// engine's order) and, when all are, the summary and pictures: deterministic numbers for the goldens.
func writeSweep(t *testing.T, dir string, g *ablation.Grid, made int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ablation.GridFile), g.Marshal(), 0o644)
	cells := slices.Clone(g.Cells())
	ref := cells[g.Reference]
	cells = append([]ablation.Cell{ref}, slices.DeleteFunc(cells, func(c ablation.Cell) bool { return c.Index == ref.Index })...)
	var b strings.Builder
	n := 0
	for s := range g.Seeds {
		for pi, p := range g.Prompts {
			for _, c := range cells {
				if n == made {
					break
				}
				n++
				psnr := 20.0 + float64(c.Index)
				r := ablation.Result{Cell: c.ID, Settings: c.Setting, PromptID: p.ID, Prompt: p.Text, Category: p.Category, Seed: s,
					NoiseSeed: uint64(s*len(g.Prompts) + pi), NFE: c.Setting.Options().NFE(), Forwards: Forwards(c.Setting),
					WallMs: 100 / float64(1+c.Index), Score: float64((c.Index*3+pi*5)%7) / 7, Clipped: 0.01, Sharpness: 0.1,
					Image: ablation.ImagePath(ablation.Key{Cell: c.ID, Prompt: p.ID, Seed: s})}
				if c.Index != ref.Index {
					r.MSE, r.PSNR = 0.01, &psnr
				}
				line, _ := json.Marshal(r)
				b.Write(append(line, '\n'))
			}
		}
	}
	os.WriteFile(filepath.Join(dir, ablation.ResultsFile), []byte(b.String()), 0o644)
	if made < g.Images() {
		return
	}
	os.WriteFile(filepath.Join(dir, ablation.SummaryMD), []byte("# Sweep\n"), 0o644)
	pic := func(w, h int, c color.RGBA) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetRGBA(x, y, color.RGBA{c.R, uint8(255 * x / w), uint8(255 * y / h), 255})
			}
		}
		return img
	}
	dataset.WritePNG(filepath.Join(dir, ablation.ParetoFile), pic(60, 40, color.RGBA{R: 200}))
	for _, c := range g.Cells() {
		dataset.WritePNG(filepath.Join(dir, ablation.SheetFile(c.ID)), pic(32, 16, color.RGBA{R: uint8(40 * c.Index)}))
	}
}

func plain(m *Model) string { return ansi.Strip(m.View()) }

// Starting a sweep from the view runs the engine into RUNS/sweeps/NAME, the folder `lumina ablate`
// writes, and the table fills as its images arrive: per-cell counts first, then intervals.
func TestStartSweepFillsTheTable(t *testing.T) {
	t.Chdir(t.TempDir())
	m, sw := newView(t, 160, 48, true)
	sw.Gate = make(chan struct{})
	p := drive.NewPump(t, m.upd)
	p.Go(m.Init())
	tinyGrid(t, m)
	choose(t, m, "seeds", "2")
	if v := plain(m); !strings.Contains(v, "8 (2 cells × 2 prompts × 2 seeds)") || !strings.Contains(v, "runs/sweeps/cfg") {
		t.Fatalf("plan:\n%s", v)
	}
	p.Go(m.upd(drive.Key("g")))
	if !m.Busy() || !m.onSweep {
		t.Fatalf("g did not start the sweep: %s", m.err)
	}
	// Images pass the gate one at a time until the first prompt's, both cells, are summarised.
	p.Until("the first prompt's summary", func() bool { return m.sw.n >= 2 || release(sw.Gate) }, 20*time.Second)
	v := plain(m)
	if !strings.Contains(v, "1/4") || !strings.Contains(v, "intervals over") || !strings.Contains(v, "×") || !strings.Contains(v, "/8 images") {
		t.Errorf("half-way:\n%s", v)
	}
	close(sw.Gate)
	p.Until("the sweep's end", func() bool { return !m.Busy() && m.sw.state == "finished" && m.sw.n == 8 }, 30*time.Second)
	dir := filepath.Join(root, "cfg")
	for _, f := range []string{ablation.GridFile, ablation.ResultsFile, ablation.SummaryMD} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the sweep folder lacks %s: %v", f, err)
		}
	}
	if rs, err := ablation.ReadAll(dir); err != nil || len(rs) != 8 {
		t.Errorf("results: %d, %v", len(rs), err)
	}
	if v := plain(m); !strings.Contains(v, "4/4") || !strings.Contains(v, "finished") || strings.Contains(v, "intervals over") {
		t.Errorf("finished:\n%s", v)
	}
	// A second sweep of the same grid gets a folder of its own.
	press(t, m, "esc")
	if m.uniqueName() != "cfg-2" {
		t.Errorf("next name %s", m.uniqueName())
	}
}

// release lets one image through the gate if the engine waits at it; it reports false, so a
// condition can call it while it does not hold.
func release(gate chan struct{}) bool {
	select {
	case gate <- struct{}{}:
	default:
	}
	return false
}

// x stops a running sweep (the folder stays resumable) and R resumes it to the end.
func TestStopAndResume(t *testing.T) {
	t.Chdir(t.TempDir())
	m, sw := newView(t, 80, 24, true)
	sw.Gate = make(chan struct{})
	p := drive.NewPump(t, m.upd)
	tinyGrid(t, m)
	p.Go(m.upd(drive.Key("g")))
	p.Until("the first image", func() bool { return len(m.sw.results) > 0 || release(sw.Gate) }, 20*time.Second)
	p.Go(m.upd(drive.Key("x")))
	p.Until("the stop", func() bool { return !m.Busy() }, 20*time.Second)
	if !strings.Contains(m.sw.state, "stopped") {
		t.Fatalf("state %q", m.sw.state)
	}
	close(sw.Gate)
	p.Go(m.upd(drive.Key("R")))
	if !m.Busy() {
		t.Fatalf("R did not resume: %s", m.err)
	}
	p.Until("the resumed sweep's end", func() bool { return !m.Busy() && m.sw.state == "finished" }, 30*time.Second)
	if rs, _ := ablation.ReadAll(filepath.Join(root, "cfg")); len(rs) != 4 {
		t.Errorf("%d results after the resume", len(rs))
	}
}

func TestRefusals(t *testing.T) {
	t.Chdir(t.TempDir())
	m, sw := newView(t, 80, 24, true)
	sw.Err = fmt.Errorf("grid x line 3: ckpt: no such checkpoint")
	p := drive.NewPump(t, m.upd)
	p.Go(m.upd(drive.Key("g")))
	p.Until("the failure", func() bool { return !m.Busy() }, 10*time.Second)
	if !strings.Contains(plain(m), "sweep failed: grid x line 3") {
		t.Errorf("failure not shown:\n%s", plain(m))
	}
	// A typed value the grid refuses says why, and the grid is unchanged.
	press(t, m, "esc")
	m.row = rowOf(t, m.setup, "cfg")
	press(t, m, "a", "9", "9", "enter")
	if !m.adding || !strings.HasPrefix(m.err, "cfg must be a number in [0, 50]") || !strings.Contains(plain(m), "cfg must be") {
		t.Errorf("refused value:\n%s", plain(m))
	}
	press(t, m, "esc")
	if m.adding || m.Capturing() {
		t.Error("esc did not leave the value input")
	}
	// No engine: the view says so.
	n := New(common.New(), nil)
	n.SetSize(80, 24)
	if !strings.Contains(plain(n), "no sweep engine") {
		t.Errorf("nil sweeper:\n%s", plain(n))
	}
}

// An existing sweep folder opens read-only from the list: its table, the text chart (no sixel), each
// cell's contact sheet.
func TestOpenExistingSweep(t *testing.T) {
	t.Chdir(t.TempDir())
	m, _ := newView(t, 80, 24, true)
	tinyGrid(t, m)
	g, _ := m.setup.Grid("old")
	writeSweep(t, filepath.Join(root, "old"), g, g.Images())
	drive.Settle(t, m.upd, m.Init())
	if !strings.Contains(plain(m), "old  4 images, finished") {
		t.Fatalf("list:\n%s", plain(m))
	}
	press(t, m, "tab", "enter")
	v := plain(m)
	if !m.onSweep || !strings.Contains(v, "finished (read-only)") || !strings.Contains(v, "score") || !strings.Contains(v, "speed-up") {
		t.Fatalf("opened:\n%s", v)
	}
	if img, _ := m.ImageSlot(); img != nil {
		t.Error("a picture slot without sixel: the text chart stands in for the plot")
	}
	m.Update(common.ImageModeMsg{Mode: termcap.Sixel})
	if img, _ := m.ImageSlot(); img == nil || img.Bounds().Dx() != 60 {
		t.Error("no pareto.png in sixel mode")
	}
	press(t, m, "down", "enter")
	img, box := m.ImageSlot()
	if img == nil || img.Bounds().Dx() != 32 || !strings.Contains(plain(m), "Contact sheet cfg-8") {
		t.Fatalf("contact sheet of the second cell: %v\n%s", img, plain(m))
	}
	if box.Row < 3 || box.Rows < 1 {
		t.Errorf("sheet box %+v", box)
	}
	press(t, m, "esc")
	if m.onSweep {
		t.Error("esc did not go back to the grid")
	}
}

func TestGolden(t *testing.T) {
	for _, th := range []struct {
		name string
		dark bool
	}{{"dark", true}, {"light", false}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			t.Run(fmt.Sprintf("%s_%dx%d", th.name, sz[0], sz[1]), func(t *testing.T) {
				t.Chdir(t.TempDir())
				name := func(state string) string { return fmt.Sprintf("%s_%s_%dx%d", state, th.name, sz[0], sz[1]) }
				m, _ := newView(t, sz[0], sz[1], th.dark)
				tinyGrid(t, m)
				choose(t, m, "renorm", "0")
				g, _ := m.setup.Grid("done")
				writeSweep(t, filepath.Join(root, "done"), g, g.Images())
				writeSweep(t, filepath.Join(root, "half"), g, 5)
				drive.Settle(t, m.upd, m.Init())
				golden.Assert(t, name("setup"), m.View(), sz[0], sz[1])

				m.row = rowOf(t, m.setup, "cfg")
				press(t, m, "a", "9", "9", "enter")
				golden.Assert(t, name("refused"), m.View(), sz[0], sz[1])
				press(t, m, "esc", "tab", "down")
				golden.Assert(t, name("list"), m.View(), sz[0], sz[1])

				press(t, m, "enter") // "half": unfinished, read-only
				golden.Assert(t, name("unfinished"), m.View(), sz[0], sz[1])
				press(t, m, "esc", "up", "enter")
				golden.Assert(t, name("finished"), m.View(), sz[0], sz[1])
				press(t, m, "down", "enter")
				golden.Assert(t, name("sheet"), m.View(), sz[0], sz[1])
				m.Update(common.ImageModeMsg{Mode: termcap.Sixel})
				press(t, m, "enter")
				golden.Assert(t, name("pareto_sixel"), m.View(), sz[0], sz[1])

				// A running sweep, fed events as the engine sends them.
				m.Update(common.ImageModeMsg{Mode: termcap.HalfBlock})
				press(t, m, "esc")
				m.sweeper = blocked{m.sweeper.(*fake.Sweeper)}
				m.upd(drive.Key("g")) // the run's commands are not started: the test plays the engine
				close(m.events)
				drive.Settle(t, m.upd, m.upd(EventMsg{Job: m.job, Event: ablation.Started{Dir: m.runDir, Total: 8, Pending: 8}}))
				rs := results(g)
				for i, r := range rs[:3] {
					r.Cell = m.sw.grid.Cells()[slices.IndexFunc(g.Cells(), func(c ablation.Cell) bool { return c.ID == r.Cell })].ID
					drive.Settle(t, m.upd, m.upd(EventMsg{Job: m.job, Event: ablation.ImageDone{Result: r, Done: i + 1, Pending: 8, Elapsed: time.Duration(i+1) * 1500 * time.Millisecond}}))
				}
				golden.Assert(t, name("running"), m.View(), sz[0], sz[1])
			})
		}
	}
}

// blocked is a sweeper whose runs the test plays itself.
type blocked struct{ *fake.Sweeper }

func (blocked) Run(ctx context.Context, o ablation.Options) (*ablation.Stats, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// results are the records writeSweep writes for g, in the engine's order.
func results(g *ablation.Grid) []ablation.Result {
	dir, _ := os.MkdirTemp("", "sweep")
	defer os.RemoveAll(dir)
	tt := &testing.T{}
	writeSweep(tt, dir, g, g.Images())
	rs, _ := ablation.ReadAll(dir)
	return rs
}
