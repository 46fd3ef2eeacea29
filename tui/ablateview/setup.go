package ablateview

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/data/toyeval"
)

// Row is one line of the grid being built: a key's candidate values and which are chosen. Axis rows
// take several values (the grid's product runs over them); the prompts and seeds rows one.
type Row struct {
	Key    string
	Label  string
	Values []string
	On     []bool
	// Single rows hold one chosen value (Index).
	Single bool
	Index  int
}

// Chosen lists the row's chosen values, in the row's order.
func (r Row) Chosen() []string {
	if r.Single {
		return []string{r.Values[r.Index]}
	}
	var out []string
	for i, v := range r.Values {
		if r.On[i] {
			out = append(out, v)
		}
	}
	return out
}

// Prompt sets: a ToyEval suite, or its first few prompts, "quick:2" (written into the grid as a list, so they are
// judged from their text as a grid's own prompts are).
const firstOf = "quick:%d"

// Setup is the grid the Ablate view builds: every sweepable key with a few useful values, the prompts and
// the seeds. It is pure, so the grid it makes is tested without a terminal.
type Setup struct {
	Rows []Row
	def  ablation.Setting
}

// Row keys of the prompts and seeds rows.
const (
	keyPrompts = "prompts"
	keySeeds   = "seeds"
)

// candidates are the values each key offers before any is typed: the paper's settings and their
// neighbours at this project's scale.
var candidates = map[string][]string{
	ablation.KeySolver:   {"euler", "midpoint", "fdpm"},
	ablation.KeySteps:    {"10", "20", "30", "50"},
	ablation.KeyCFG:      {"1", "2", "4", "8"},
	ablation.KeyShift:    {"1", "3", "6"},
	ablation.KeyRenorm:   {"0", "1"},
	ablation.KeyTrunc:    {"1", "0.5", "0.25"},
	ablation.KeyTeaCache: {"0", "0.05", "0.1"},
	ablation.KeyRes:      {"16", "32"},
	ablation.KeySystem:   {"A", "B", "C", "none"},
}

// axisOrder is the rows' order: the sampler's settings first, as the Sample view lists them.
var axisOrder = []string{ablation.KeySolver, ablation.KeySteps, ablation.KeyCFG, ablation.KeyShift, ablation.KeyRenorm,
	ablation.KeyTrunc, ablation.KeyTeaCache, ablation.KeyRes, ablation.KeySystem}

// NewSetup is a one-cell grid of def's settings over the quick suite with one seed.
func NewSetup(def ablation.Setting) *Setup {
	s := &Setup{def: def}
	for _, k := range axisOrder {
		vals := slices.Clone(candidates[k])
		d := def.Format(k)
		if !slices.Contains(vals, d) {
			vals = append(vals, d)
		}
		r := Row{Key: k, Label: k, Values: vals, On: make([]bool, len(vals))}
		r.On[slices.Index(vals, d)] = true
		s.Rows = append(s.Rows, r)
	}
	prompts := []string{fmt.Sprintf(firstOf, 2)}
	for _, n := range toyeval.SuiteNames() {
		prompts = append(prompts, n)
	}
	s.Rows = append(s.Rows,
		Row{Key: keyPrompts, Label: "prompts", Values: prompts, Single: true, Index: slices.Index(prompts, "quick")},
		Row{Key: keySeeds, Label: "seeds", Values: []string{"1", "2", "4", "8"}, Single: true})
	return s
}

// Toggle flips value i of row r (an axis keeps at least one value), or chooses it in a single row.
func (s *Setup) Toggle(r, i int) {
	row := &s.Rows[r]
	if row.Single {
		row.Index = i
		return
	}
	if row.On[i] && len(row.Chosen()) == 1 {
		return
	}
	row.On[i] = !row.On[i]
}

// Add puts a typed value into axis row r, chosen; it is refused with the grid's own message when the
// key does not take it.
func (s *Setup) Add(r int, v string) error {
	row := &s.Rows[r]
	v = strings.TrimSpace(v)
	if row.Single {
		return fmt.Errorf("%s takes one of the values listed", row.Label)
	}
	if v == "" {
		return fmt.Errorf("type a value for %s", row.Key)
	}
	if ablation.Numeric(row.Key) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s takes a number, got %q", row.Key, v)
		}
		v = strconv.FormatFloat(f, 'g', -1, 64)
	}
	if i := slices.Index(row.Values, v); i >= 0 {
		row.On[i] = true
		return nil
	}
	try := *s
	try.Rows = slices.Clone(s.Rows)
	t := &try.Rows[r]
	t.Values, t.On = append(slices.Clone(row.Values), v), append(make([]bool, len(row.Values)), true)
	if _, err := try.Grid("check"); err != nil {
		return gridMessage(err)
	}
	row.Values, row.On = append(row.Values, v), append(row.On, true)
	return nil
}

// gridMessage is a refusal of the built grid without the file and line, which name nothing the person
// typed into.
func gridMessage(err error) error {
	var msgs []string
	for _, e := range unjoin(err) {
		var ge *ablation.GridError
		if errors.As(e, &ge) {
			msgs = append(msgs, ge.Msg)
		} else {
			msgs = append(msgs, e.Error())
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// reference is an axis row's reference value: the default setting when chosen, else the first chosen.
func (s *Setup) reference(r Row) string {
	if d := s.def.Format(r.Key); slices.Contains(r.Chosen(), d) {
		return d
	}
	return r.Chosen()[0]
}

// Swept lists the keys with more than one chosen value.
func (s *Setup) Swept() []string {
	var out []string
	for _, r := range s.Rows {
		if !r.Single && len(r.Chosen()) > 1 {
			out = append(out, r.Key)
		}
	}
	return out
}

// Name is a sweep folder's name for the grid: its swept keys ("cfg-renorm"), or "single" for one cell.
func (s *Setup) Name() string {
	if sw := s.Swept(); len(sw) > 0 {
		return strings.Join(sw, "-")
	}
	return "single"
}

// YAML is the grid file of the chosen values, in the convention `lumina ablate --grid` reads.
func (s *Setup) YAML(name string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "method: grid\nname: %s\nparameters:\n", strconv.Quote(name))
	var ref []string
	for _, r := range s.Rows {
		if r.Single {
			continue
		}
		q := func(v string) string {
			if ablation.Numeric(r.Key) {
				return v
			}
			return strconv.Quote(v)
		}
		ch := r.Chosen()
		if len(ch) == 1 {
			fmt.Fprintf(&b, "  %s: {value: %s}\n", r.Key, q(ch[0]))
			continue
		}
		vs := make([]string, len(ch))
		for i, v := range ch {
			vs[i] = q(v)
		}
		fmt.Fprintf(&b, "  %s: {values: [%s]}\n", r.Key, strings.Join(vs, ", "))
		ref = append(ref, fmt.Sprintf("%s: %s", r.Key, q(s.reference(r))))
	}
	p := s.row(keyPrompts).Chosen()[0]
	var n int
	if _, err := fmt.Sscanf(p, firstOf, &n); err == nil {
		quick, _ := toyeval.Suite("quick")
		b.WriteString("prompts:\n")
		for _, pr := range quick[:min(n, len(quick))] {
			fmt.Fprintf(&b, "  - %s\n", strconv.Quote(pr.Text))
		}
	} else {
		fmt.Fprintf(&b, "prompts: %s\n", p)
	}
	fmt.Fprintf(&b, "seeds: %s\n", s.row(keySeeds).Chosen()[0])
	if len(ref) > 0 {
		fmt.Fprintf(&b, "reference: {%s}\n", strings.Join(ref, ", "))
	}
	return []byte(b.String())
}

// PromptCount is the number of prompts of the chosen set.
func (s *Setup) PromptCount() int {
	p := s.row(keyPrompts).Chosen()[0]
	var n int
	if _, err := fmt.Sscanf(p, firstOf, &n); err == nil {
		return n
	}
	ps, _ := toyeval.Suite(p)
	return len(ps)
}

func (s *Setup) row(key string) Row {
	for _, r := range s.Rows {
		if r.Key == key {
			return r
		}
	}
	panic("ablateview: no row " + key)
}

// Grid parses YAML(name) as `lumina ablate` would, with the view's defaults for the keys it leaves out.
func (s *Setup) Grid(name string) (*ablation.Grid, error) {
	return ablation.ParseGrid(s.YAML(name), "the Ablate view's grid", s.def)
}

// DefaultPerForward is the cost of one model forward of one 32 px sample assumed before any is measured:
// the shipped tiny checkpoint's on this project's 2-core machine (README, benchmarks: 707 ms for 98).
const DefaultPerForward = 7 * time.Millisecond

// Forwards is an upper bound of a cell's forwards per image: two per evaluation under guidance (CFG-Trunc
// and TeaCache only lower it).
func Forwards(st ablation.Setting) int {
	n := st.Options().NFE()
	if st.CFG != 1 {
		n *= 2
	}
	return n
}

// Estimate is the time a grid's images take at perForward per 32 px forward, the cost growing with the
// pixel count.
func Estimate(g *ablation.Grid, perForward time.Duration) time.Duration {
	var per float64
	for _, c := range g.Cells() {
		scale := float64(c.Setting.Res*c.Setting.Res) / (32 * 32)
		per += float64(Forwards(c.Setting)) * scale
	}
	return time.Duration(per * float64(perForward) * float64(len(g.Prompts)*g.Seeds))
}
