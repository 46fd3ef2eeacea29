// Package sampleview is the Sample view: a multi-line prompt, the sampler's settings (an
// infer.SampleOptions plus system template and resolution), generation in a tea.Cmd, the image
// inline, NFE and timings, a history strip, and side-by-side comparison of two samples.
package sampleview

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/tui/backend"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/filter"
	"github.com/lumina-workbench/lumina/tui/components/history"
	"github.com/lumina-workbench/lumina/tui/components/imagebox"
	"github.com/lumina-workbench/lumina/tui/components/settings"
	imgview "github.com/lumina-workbench/lumina/tui/image"
	"github.com/lumina-workbench/lumina/tui/state"
)

// ProgressMsg is one solver step of the running job.
type ProgressMsg struct {
	Job  int
	Step infer.StepInfo
}

// DoneMsg ends a job: the sample, or the error (context.Canceled when it was cancelled).
type DoneMsg struct {
	Job int
	Gen *infer.Generated
	Err error
}

// progressClosedMsg says the job's progress channel is drained.
type progressClosedMsg struct{ Job int }

// KeyMap is the view's own keys.
type KeyMap struct {
	Generate   key.Binding
	Generate2  key.Binding
	RandomSeed key.Binding
	Focus      key.Binding
	Blur       key.Binding
	Cancel     key.Binding
	Compare    key.Binding
	Clear      key.Binding
	Save       key.Binding
	CopyCmd    key.Binding
}

// DefaultKeyMap: ctrl+r (or g in the settings) generates; r draws a random seed; tab moves between
// prompt and settings; ctrl+u empties the whole prompt, not only the line before the cursor. Enter in
// the settings types a value.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Generate:   key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "generate")),
		Generate2:  key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "generate")),
		RandomSeed: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "random seed")),
		Focus:      key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "prompt/settings")),
		Blur:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "leave prompt")),
		Cancel:     key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "cancel")),
		Compare:    key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "compare")),
		Clear:      key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "clear prompt")),
		Save:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save image")),
		CopyCmd:    key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy command")),
	}
}

// promptPlaceholder is the example prompt shown while the prompt is empty.
const promptPlaceholder = "a red circle left of a blue square"

// Field positions in the settings list.
const (
	fSystem = iota
	fSeed
	fRes
	fSteps
	fCFG
	fSolver
	fShift
	fRenorm
	fTrunc
	fTea
	numFields
)

// Model is the sample view.
type Model struct {
	common  common.Common
	keys    KeyMap
	sampler backend.Sampler
	info    backend.ModelInfo

	prompt textarea.Model
	fields *settings.Model
	image  *imagebox.Model
	hist   *history.Model
	// histFilter is the history's / filter (with the history focused).
	histFilter *filter.Model

	promptFocused bool
	compare       bool
	// cmp are the samples compared (the first is the reference), psnr each one's PSNR against it.
	cmp  []history.Entry
	psnr []float64

	// stateDir keeps the sampled images (history/); "" keeps them in memory only.
	stateDir string
	// outDir is where s saves the selected image (the runs folder's samples/).
	outDir string
	// now is the clock of the progress line's ETA; replaced in tests.
	now     func() time.Time
	started time.Time
	nextID  int
	// seeds draws random seeds (r); replaced in tests.
	seeds func() uint64

	job      int // id of the latest job; 0 before the first
	running  bool
	cancel   context.CancelFunc
	progress infer.StepInfo
	progCh   chan ProgressMsg
	err      string
}

// New makes the view; sampler may be nil (no checkpoint loaded yet).
func New(c common.Common, sampler backend.Sampler) *Model {
	m := &Model{common: c, keys: DefaultKeyMap(), nextID: 1, seeds: func() uint64 { return rand.Uint64N(1 << 31) },
		outDir: DefaultOutDir(""), now: time.Now}
	m.prompt = common.NewTextarea(c.Styles)
	m.prompt.CharLimit = 2000
	m.fields = settings.New(c, nil)
	m.image = imagebox.New(c)
	m.hist = history.New(c)
	m.histFilter = filter.New(c)
	m.SetSampler(sampler)
	m.focusPrompt(true)
	return m
}

// SetSampler swaps the model (a checkpoint loaded from the Runs view); the settings keep their
// values where the new model allows them.
func (m *Model) SetSampler(s backend.Sampler) {
	m.sampler = s
	m.info = backend.ModelInfo{}
	if s != nil {
		m.info = s.Info()
	}
	old := m.fields.Fields
	m.fields.Fields = m.defaultFields()
	if len(old) == numFields {
		for i := range old {
			if i == fRes {
				continue // the new model may offer other resolutions
			}
			f := &m.fields.Fields[i]
			f.Value, f.On, f.Index = old[i].Value, old[i].On && f.Disabled == "", old[i].Index
		}
	}
	m.image.SetPlaceholder(m.placeholder())
}

func (m *Model) placeholder() string {
	if m.sampler == nil {
		return "no checkpoint loaded: pick one in Runs (4)"
	}
	return "type a prompt, ctrl+r to generate"
}

func (m *Model) defaultFields() []settings.Field {
	d := m.info.Defaults
	if d.Steps == 0 {
		d = infer.DefaultSampleOptions()
	}
	res := m.info.Resolutions
	if len(res) == 0 {
		res = []int{32}
	}
	resChoices := make([]string, len(res))
	resIdx := len(res) - 1
	for i, r := range res {
		resChoices[i] = fmt.Sprint(r)
		if r == m.info.DefaultResolution {
			resIdx = i
		}
	}
	solverIdx := 0
	for i, s := range infer.Solvers {
		if s == d.Solver {
			solverIdx = i
		}
	}
	tea := settings.Field{Label: "TeaCache", Kind: settings.Toggle, Value: 0.3, Min: 0.01, Max: infer.MaxTeaCache, Step: 0.05, Big: 0.5, Decimals: 2, Off: 0, Hint: "rel-L1 threshold"}
	if len(m.info.TeaCoeffs) == 0 {
		tea.Disabled = "model has no coefficients"
	}
	return []settings.Field{
		fSystem: {Label: "System", Kind: settings.Choice, Choices: []string{"A", "B", "C"}, Hint: "template"},
		fSeed:   {Label: "Seed", Kind: settings.Number, Value: float64(d.Seed), Min: 0, Max: 1 << 31, Step: 1, Big: 100},
		fRes:    {Label: "Resolution", Kind: settings.Choice, Choices: resChoices, Index: resIdx, Hint: "px"},
		fSteps:  {Label: "Steps", Kind: settings.Number, Value: float64(d.Steps), Min: 2, Max: infer.MaxSteps, Step: 1, Big: 10},
		fCFG:    {Label: "CFG scale", Kind: settings.Number, Value: d.CFG, Min: 0, Max: infer.MaxCFG, Step: 0.5, Big: 2, Decimals: 1},
		fSolver: {Label: "Solver", Kind: settings.Choice, Choices: append([]string(nil), infer.Solvers...), Index: solverIdx},
		fShift:  {Label: "Shift", Kind: settings.Number, Value: d.Shift, Min: 0.1, Max: infer.MaxShift, Step: 0.5, Big: 2, Decimals: 1},
		fRenorm: {Label: "Renorm", Kind: settings.Toggle, Value: max(d.Renorm, 1), On: d.Renorm > 0, Min: 0.05, Max: infer.MaxRenorm, Step: 0.05, Big: 0.5, Decimals: 2, Off: 0, Hint: "max ‖v‖/‖v_c‖"},
		fTrunc:  {Label: "Trunc", Kind: settings.Toggle, Value: 0.8, On: d.Trunc < 1, Min: 0, Max: 0.99, Step: 0.05, Big: 0.2, Decimals: 2, Off: 1, Hint: "cond-only from t≥α"},
		fTea:    tea,
	}
}

// Spec is the image the prompt and settings describe right now.
func (m *Model) Spec() infer.Spec {
	f := m.fields.Fields
	var res int
	fmt.Sscan(f[fRes].Chosen(), &res)
	sys, _ := caption.ParseTemplate(f[fSystem].Chosen())
	o := infer.SampleOptions{
		Steps:    int(f[fSteps].Value),
		CFG:      f[fCFG].Value,
		Solver:   f[fSolver].Chosen(),
		Shift:    f[fShift].Value,
		Renorm:   f[fRenorm].Current(),
		Trunc:    f[fTrunc].Current(),
		TeaCache: f[fTea].Current(),
		Seed:     uint64(f[fSeed].Value),
	}
	if o.TeaCache > 0 {
		o.TeaCoeffs = append([]float64(nil), m.info.TeaCoeffs...)
	}
	return infer.Spec{Prompt: strings.TrimSpace(m.prompt.Value()), System: infer.System{Template: sys}, Width: res, Height: res, Options: o}
}

// SetPrompt replaces the prompt text.
func (m *Model) SetPrompt(s string) { m.prompt.SetValue(s) }

func (m *Model) focusPrompt(on bool) tea.Cmd {
	m.promptFocused = on
	m.hist.SetFocused(false)
	if on {
		m.fields.Blur()
		return m.prompt.Focus()
	}
	m.prompt.Blur()
	m.fields.Focus()
	return nil
}

// Title is the tab label.
func (m *Model) Title() string { return "Sample" }

// Capturing is true while the prompt, or a setting's value editor, has the keyboard.
func (m *Model) Capturing() bool {
	return m.promptFocused || m.fields.Editing() || m.histFilter.Typing()
}

// Busy reports a running job.
func (m *Model) Busy() bool { return m.running }

// StopJob cancels the running job; its DoneMsg still arrives.
func (m *Model) StopJob() tea.Cmd {
	if m.cancel != nil {
		m.cancel()
	}
	return nil
}

// Init has nothing to start.
func (m *Model) Init() tea.Cmd { return nil }

// SetSize lays the view out.
func (m *Model) SetSize(w, h int) {
	m.common.SetSize(w, h)
	l := m.layout()
	m.prompt.SetWidth(l.leftW)
	m.prompt.SetHeight(l.promptH)
	// Cut to one line: the text area draws the wrapped rest of a placeholder in the text colour.
	m.prompt.Placeholder = ansi.Truncate(promptPlaceholder, m.prompt.Width(), "…")
	m.fields.SetSize(l.leftW, numFields)
	m.image.SetSize(l.imgCols, l.imgRows)
	m.hist.SetSize(l.rightW, l.histH)
}

type layout struct {
	leftW, rightW    int
	promptH          int
	imgCols, imgRows int
	imgRow           int // first row of the image in the right column
	histH            int
	infoH            int
}

func (m *Model) layout() layout {
	w, h := m.common.Width, m.common.Height
	var l layout
	l.leftW = min(44, max(30, w*2/5))
	l.rightW = max(0, w-l.leftW-common.Gutter)
	// Left: "Prompt", the prompt, blank, "Settings", the fields, blank, job status.
	l.promptH = max(2, min(8, h-numFields-6))
	// Right: one header line, the image, the info lines (two, or one per compared sample), the history.
	l.histH = max(2, min(8, h/4))
	l.infoH = 2
	if m.compare {
		l.infoH = len(m.cmp)
	}
	l.imgRow = 1
	l.imgRows = max(1, h-l.imgRow-l.infoH-l.histH)
	l.imgCols = min(l.rightW, 2*l.imgRows)
	if m.compare {
		l.imgCols = l.rightW
	}
	return l
}

// ImageSlot is the image on show and its box, relative to the view.
func (m *Model) ImageSlot() (image.Image, imgview.Box) {
	l := m.layout()
	return m.image.Image(), m.image.Box(l.leftW+common.Gutter, l.imgRow)
}

// Update dispatches.
func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case common.ImageModeMsg:
		m.common.ImageMode = msg.Mode
		return m, m.image.Update(msg)
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case tea.PasteMsg:
		if m.promptFocused {
			// One line break per CRLF; the text area would make two of it.
			msg.Content = strings.ReplaceAll(msg.Content, "\r\n", "\n")
			return m, m.editPrompt(msg)
		}
	case ProgressMsg:
		if msg.Job == m.job {
			m.progress = msg.Step
		}
		return m, m.listen()
	case progressClosedMsg:
		return m, nil
	case DoneMsg:
		return m, m.finish(msg)
	case history.SelectedMsg:
		m.showSelected()
	case settings.ChangedMsg:
		return m, nil
	case savedMsg:
		if msg.err != nil {
			return m, common.Status("image not kept: "+msg.err.Error(), true)
		}
		return m, nil
	case exportedMsg:
		if msg.err != nil {
			return m, common.Status("image not saved: "+msg.err.Error(), true)
		}
		return m, common.Status("saved "+msg.path+" and its .json sidecar", false)
	case common.ThemeMsg:
		common.StyleTextarea(&m.prompt, m.common.Styles)
		return m, m.fields.Update(msg)
	case common.Wheel:
		if msg.Delta < 0 {
			return m, m.hist.Update(tea.KeyPressMsg{Code: '[', Text: "["})
		}
		return m, m.hist.Update(tea.KeyPressMsg{Code: ']', Text: "]"})
	}
	return m, nil
}

func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if m.hist.Focused() {
		if handled, changed, cmd := m.histFilter.Update(k); handled {
			if changed {
				m.hist.SetQuery(m.histFilter.Query())
				m.showSelected()
			}
			return cmd
		}
	}
	switch {
	case key.Matches(k, m.keys.Generate):
		return m.generate()
	case key.Matches(k, m.keys.Focus):
		return m.cycleFocus(k.String() == "shift+tab")
	case m.promptFocused && key.Matches(k, m.keys.Blur):
		return m.focusPrompt(false)
	case m.promptFocused && key.Matches(k, m.keys.Clear):
		m.prompt.Reset()
		return nil
	case m.promptFocused:
		return m.editPrompt(k)
	case m.fields.Editing():
		return m.fields.Update(k)
	case key.Matches(k, m.keys.Generate2):
		return m.generate()
	case key.Matches(k, m.keys.RandomSeed):
		f := &m.fields.Fields[fSeed]
		f.Value = float64(m.seeds() % uint64(f.Max+1))
		return nil
	case key.Matches(k, m.keys.Cancel):
		return m.StopJob()
	case key.Matches(k, m.keys.Compare):
		m.toggleCompare()
		return nil
	case key.Matches(k, m.keys.Save):
		return m.saveSelected()
	case key.Matches(k, m.keys.CopyCmd):
		return m.copyCommand()
	}
	cmd := m.hist.Update(k)
	if m.hist.Full {
		m.err = fmt.Sprintf("at most %d samples compare at once: unmark one first", history.MaxMarks)
	}
	if cmd != nil || m.hist.Focused() {
		// The strip's ↑/↓ and space must not reach the settings behind it.
		return cmd
	}
	return m.fields.Update(k)
}

// cycleFocus moves tab's focus: prompt → settings → history → prompt, or back.
func (m *Model) cycleFocus(back bool) tea.Cmd {
	cur := 1 // settings
	switch {
	case m.promptFocused:
		cur = 0
	case m.hist.Focused():
		cur = 2
	}
	next := (cur + 1) % 3
	if back {
		next = (cur + 2) % 3
	}
	cmd := m.focusPrompt(next == 0)
	if next == 2 {
		m.fields.Blur()
		m.hist.SetFocused(true)
	}
	return cmd
}

func (m *Model) editPrompt(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	m.prompt, cmd = m.prompt.Update(msg)
	return cmd
}

func (m *Model) toggleCompare() {
	if m.compare {
		m.compare, m.cmp, m.psnr = false, nil, nil
		m.SetSize(m.common.Width, m.common.Height)
		m.showSelected()
		return
	}
	set := m.hist.Marked()
	// One mark and a different selection compare the two, as before marks could be many.
	if sel, ok := m.hist.Selected(); ok && len(set) == 1 && set[0].ID != sel.ID {
		set = append(set, sel)
	}
	if len(set) < 2 {
		m.err = fmt.Sprintf("mark 2–%d samples (tab to the history, space marks; or m), then press c", history.MaxMarks)
		return
	}
	m.err = ""
	m.compare, m.cmp, m.psnr = true, set, comparePSNR(set)
	m.SetSize(m.common.Width, m.common.Height)
	m.showSelected()
}

// comparePSNR is each sample's PSNR against the first, at the largest side among them (nearest
// neighbour), so samples at different resolutions still compare.
func comparePSNR(set []history.Entry) []float64 {
	side := 1
	for _, e := range set {
		side = max(side, e.Gen.Image.Rect.Dx(), e.Gen.Image.Rect.Dy())
	}
	ref := imgview.ScaleNearest(set[0].Gen.Image, side, side)
	out := make([]float64, len(set))
	for i, e := range set {
		out[i], _ = imgview.PSNR(ref, imgview.ScaleNearest(e.Gen.Image, side, side)) // same size by construction
	}
	return out
}

// generate validates the request and starts a job; the work happens in the returned commands.
func (m *Model) generate() tea.Cmd {
	if m.running {
		m.err = "a sample is already being generated (x cancels it)"
		return nil
	}
	if m.sampler == nil {
		m.err = "no checkpoint loaded: pick one in the Runs view"
		return nil
	}
	spec := m.Spec()
	if spec.Prompt == "" {
		m.err = "the prompt is empty"
		return nil
	}
	m.err = ""
	m.job++
	m.running = true
	m.progress = infer.StepInfo{Step: -1, Of: spec.Options.NFE()}
	m.started = m.now()
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.progCh = make(chan ProgressMsg, 256)
	return tea.Batch(runJob(ctx, m.sampler, m.job, spec, m.progCh), m.listen())
}

// runJob is the command that samples; it closes ch when done so the listener stops.
func runJob(ctx context.Context, s backend.Sampler, job int, spec infer.Spec, ch chan ProgressMsg) tea.Cmd {
	return func() tea.Msg {
		defer close(ch)
		spec.OnStep = func(si infer.StepInfo) {
			select {
			case ch <- ProgressMsg{Job: job, Step: si}:
			default: // the UI is behind; it only needs the latest step
			}
		}
		g, err := s.Sample(ctx, spec)
		return DoneMsg{Job: job, Gen: g, Err: err}
	}
}

// listen waits for the next progress message of the current job.
func (m *Model) listen() tea.Cmd {
	ch, job := m.progCh, m.job
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		p, ok := <-ch
		if !ok {
			return progressClosedMsg{Job: job}
		}
		return p
	}
}

func (m *Model) finish(msg DoneMsg) tea.Cmd {
	if msg.Job != m.job {
		return nil
	}
	m.running, m.cancel = false, nil
	if m.progCh != nil {
		m.progCh = nil
	}
	switch {
	case msg.Err != nil && ctxCanceled(msg.Err):
		m.err = "cancelled"
		return nil
	case msg.Err != nil:
		m.err = "sampling failed: " + strings.ReplaceAll(msg.Err.Error(), "\n", "; ")
		return common.Status(m.err, true)
	case msg.Gen == nil || msg.Gen.Image == nil || msg.Gen.Result == nil:
		m.err = "sampler returned no image"
		return nil
	}
	id := m.nextID
	m.nextID++
	m.hist.Add(history.Entry{ID: id, Gen: msg.Gen})
	m.showSelected()
	return m.keep(id, msg.Gen)
}

// savedMsg says whether a sampled image was written to the history folder.
type savedMsg struct {
	path string
	err  error
}

// keep writes a sampled image and its sidecar to the history folder, off the UI goroutine.
func (m *Model) keep(id int, g *infer.Generated) tea.Cmd {
	dir := m.stateDir
	if dir == "" {
		return nil
	}
	return func() tea.Msg {
		p, err := state.SaveImage(dir, id, g)
		return savedMsg{path: p, err: err}
	}
}

// SetStateDir keeps sampled images in dir's history folder from now on.
func (m *Model) SetStateDir(dir string) { m.stateDir = dir }

// Restore puts back a saved prompt, settings and history images (oldest first).
func (m *Model) Restore(prompt string, fields []state.Field, imgs []state.Image) {
	if prompt != "" {
		m.prompt.SetValue(prompt)
	}
	for _, sf := range fields {
		for i := range m.fields.Fields {
			f := &m.fields.Fields[i]
			if f.Label != sf.Label || f.Disabled != "" {
				continue
			}
			switch f.Kind {
			case settings.Choice:
				for j, c := range f.Choices {
					if c == sf.Choice {
						f.Index = j
					}
				}
			default:
				if sf.Value >= f.Min && sf.Value <= f.Max {
					f.Value = sf.Value
				}
				f.On = sf.On || f.Kind != settings.Toggle
			}
		}
	}
	for _, im := range imgs {
		m.hist.Add(history.Entry{ID: im.ID, Gen: im.Gen})
		m.nextID = max(m.nextID, im.ID+1)
	}
	if len(imgs) > 0 {
		m.showSelected()
	}
}

// Saved is the prompt and settings as the state file keeps them.
func (m *Model) Saved() (prompt string, fields []state.Field) {
	for _, f := range m.fields.Fields {
		sf := state.Field{Label: f.Label, Value: f.Value, On: f.On}
		if f.Kind == settings.Choice {
			sf = state.Field{Label: f.Label, Choice: f.Chosen()}
		}
		fields = append(fields, sf)
	}
	return m.prompt.Value(), fields
}

func ctxCanceled(err error) bool {
	return err == context.Canceled || strings.Contains(err.Error(), context.Canceled.Error())
}

func (m *Model) showSelected() {
	if m.compare {
		imgs := make([]image.Image, len(m.cmp))
		for i, e := range m.cmp {
			imgs[i] = e.Gen.Image
		}
		m.image.SetImage(imgview.Mosaic(imgs))
		return
	}
	sel, ok := m.hist.Selected()
	if !ok {
		m.image.SetImage(nil)
		return
	}
	m.image.SetImage(sel.Gen.Image)
}
