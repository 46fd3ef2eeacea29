package ablation

// Grid files, in the Weights & Biases sweep convention (method: grid, parameters with value or values),
// plus the prompts, the number of seeds and the reference cell. Everything is checked while parsing, each
// refusal naming the file and line, so a sweep never fails half-way on a typo.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
)

// The keys a grid may sweep, in the order cells, file names and tables list them.
const (
	KeyCkpt     = "ckpt"
	KeySystem   = "system"
	KeyRes      = "res"
	KeySolver   = "solver"
	KeySteps    = "steps"
	KeyCFG      = "cfg"
	KeyShift    = "shift"
	KeyRenorm   = "renorm"
	KeyTrunc    = "trunc"
	KeyTeaCache = "teacache"
)

// Keys lists every sweepable key in order.
var Keys = []string{KeyCkpt, KeySystem, KeyRes, KeySolver, KeySteps, KeyCFG, KeyShift, KeyRenorm, KeyTrunc, KeyTeaCache}

// Bounds of a grid: enough for any sweep worth running on one machine or a cluster, small enough that a
// typo (seeds: 10000) is refused instead of queueing weeks of work.
const (
	MaxSeeds  = 1000
	MaxCells  = 10000
	MaxImages = 1000000
)

// Setting is one cell's sampler settings: a value for every key.
type Setting struct {
	Ckpt     string  `json:"ckpt"`
	System   string  `json:"system"`
	Res      int     `json:"res"`
	Solver   string  `json:"solver"`
	Steps    int     `json:"steps"`
	CFG      float64 `json:"cfg"`
	Shift    float64 `json:"shift"`
	Renorm   float64 `json:"renorm"`
	Trunc    float64 `json:"trunc"`
	TeaCache float64 `json:"teacache"`
}

// DefaultSetting is what a grid leaves unsaid: the sampler's defaults (infer.DefaultSampleOptions),
// system prompt A, 32 px, and the checkpoint ckpt.
func DefaultSetting(ckpt string) Setting {
	o := infer.DefaultSampleOptions()
	return Setting{Ckpt: ckpt, System: "A", Res: 32, Solver: o.Solver, Steps: o.Steps, CFG: o.CFG, Shift: o.Shift,
		Renorm: o.Renorm, Trunc: o.Trunc, TeaCache: o.TeaCache}
}

// Options are the sampler options of s (TeaCoeffs and Seed left for the caller).
func (s Setting) Options() infer.SampleOptions {
	return infer.SampleOptions{Steps: s.Steps, CFG: s.CFG, Solver: s.Solver, Shift: s.Shift, Renorm: s.Renorm,
		Trunc: s.Trunc, TeaCache: s.TeaCache}
}

// Value is one key's value: a string for ckpt, system and solver, a number otherwise.
type Value struct {
	Str string
	Num float64
}

// keyKind is how a key's values are spelled.
type keyKind int

const (
	kindString keyKind = iota
	kindInt
	kindFloat
)

func kindOf(key string) keyKind {
	switch key {
	case KeyCkpt, KeySystem, KeySolver:
		return kindString
	case KeyRes, KeySteps:
		return kindInt
	}
	return kindFloat
}

// Numeric reports whether key takes numbers (and so gets a line plot).
func Numeric(key string) bool { return kindOf(key) != kindString }

func (v Value) format(key string) string {
	if kindOf(key) == kindString {
		return v.Str
	}
	return strconv.FormatFloat(v.Num, 'g', -1, 64)
}

// field points at key's field in s: one of str, num and integer is set.
func (s *Setting) field(key string) (str *string, num *float64, integer *int) {
	switch key {
	case KeyCkpt:
		return &s.Ckpt, nil, nil
	case KeySystem:
		return &s.System, nil, nil
	case KeySolver:
		return &s.Solver, nil, nil
	case KeyRes:
		return nil, nil, &s.Res
	case KeySteps:
		return nil, nil, &s.Steps
	case KeyCFG:
		return nil, &s.CFG, nil
	case KeyShift:
		return nil, &s.Shift, nil
	case KeyRenorm:
		return nil, &s.Renorm, nil
	case KeyTrunc:
		return nil, &s.Trunc, nil
	case KeyTeaCache:
		return nil, &s.TeaCache, nil
	}
	panic("ablation: unknown key " + key)
}

// Get is s's value of key.
func (s Setting) Get(key string) Value {
	str, num, integer := s.field(key)
	switch {
	case str != nil:
		return Value{Str: *str}
	case integer != nil:
		return Value{Num: float64(*integer)}
	}
	return Value{Num: *num}
}

// Format is s's value of key as grid files and tables spell it.
func (s Setting) Format(key string) string { return s.Get(key).format(key) }

func (s *Setting) set(key string, v Value) {
	str, num, integer := s.field(key)
	switch {
	case str != nil:
		*str = v.Str
	case integer != nil:
		*integer = int(v.Num)
	default:
		*num = v.Num
	}
}

// Axis is one key's values, in the order the grid gives them.
type Axis struct {
	Key    string
	Values []Value
	// Line is where the grid file sets the key, Lines where it gives each value (0 for a default).
	Line  int
	Lines []int
}

// Cell is one combination of the axes' values.
type Cell struct {
	// Index is the cell's position in Grid.Cells.
	Index int
	// ID names the cell by its swept values, e.g. "cfg-4_renorm-1"; it is also its folder name.
	ID      string
	Setting Setting
}

// Grid is a parsed, checked grid file.
type Grid struct {
	Name        string
	Description string
	// File is where the grid was read from, for messages.
	File string
	// Axes holds every key, in Keys order; a key the file does not set has its default as its one value.
	Axes []Axis
	// Suite is the ToyEval suite the prompts come from, or "" when the grid lists its own.
	Suite   string
	Prompts []toyeval.Prompt
	Seeds   int
	// Reference is the index of the cell every other is compared with.
	Reference int

	cells []Cell
}

// axis is key's axis.
func (g *Grid) axis(key string) Axis {
	return g.Axes[slices.Index(Keys, key)]
}

// Swept lists the axes with more than one value.
func (g *Grid) Swept() []Axis {
	var out []Axis
	for _, a := range g.Axes {
		if len(a.Values) > 1 {
			out = append(out, a)
		}
	}
	return out
}

// Cells lists every combination of the axes' values: the first key varies slowest.
func (g *Grid) Cells() []Cell { return g.cells }

// Images is the number of images the grid makes: cells × prompts × seeds.
func (g *Grid) Images() int { return len(g.cells) * len(g.Prompts) * g.Seeds }

// GridError is a refusal of a grid file, at a line (0 when the file as a whole is wrong).
type GridError struct {
	File string
	Line int
	Msg  string
}

func (e *GridError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("grid %s line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("grid %s: %s", e.File, e.Msg)
}

type parser struct {
	file string
	dir  string // prompt files are relative to the grid's folder
	errs []error
}

func (p *parser) fail(line int, format string, a ...any) {
	p.errs = append(p.errs, &GridError{File: p.file, Line: line, Msg: fmt.Sprintf(format, a...)})
}

// ReadGrid reads and parses the grid file path (see ParseGrid).
func ReadGrid(path string, def Setting) (*Grid, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read grid: %w", err)
	}
	return ParseGrid(b, path, def)
}

// ParseGrid parses a grid file's bytes; file names it in messages and anchors relative prompt files, and
// def supplies every key the file leaves out. Every refusal is a *GridError; all of them are reported
// together.
func ParseGrid(data []byte, file string, def Setting) (*Grid, error) {
	p := &parser{file: file, dir: filepath.Dir(file)}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &GridError{File: file, Msg: fmt.Sprintf("not YAML: %v", err)}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &GridError{File: file, Line: max(doc.Line, 1), Msg: "a grid is a mapping with method, parameters, prompts, seeds and reference"}
	}
	g := &Grid{File: file, Seeds: 1, Name: strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))}
	root := doc.Content[0]
	var params, prompts, ref, method *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "method":
			method = v
		case "name":
			g.Name = p.str(v, "name")
		case "description":
			g.Description = p.str(v, "description")
		case "parameters":
			params = v
		case "prompts":
			prompts = v
		case "seeds":
			g.Seeds = p.seeds(v)
		case "reference":
			ref = v
		default:
			p.fail(k.Line, "unknown key %q (a grid has method, name, description, parameters, prompts, seeds and reference)", k.Value)
		}
	}
	switch {
	case method == nil:
		p.fail(root.Line, "method missing: write `method: grid`")
	case method.Value != "grid":
		p.fail(method.Line, "method %q: only grid is supported (random and Bayesian search need a metric and an agent; list the values to try instead)", method.Value)
	}
	g.Axes = p.parameters(params, root.Line, def)
	g.Suite, g.Prompts = p.prompts(prompts, root.Line)
	if len(p.errs) == 0 {
		g.cells = p.cells(g)
	}
	if len(p.errs) == 0 {
		g.Reference = p.reference(g, ref, root.Line)
	}
	if len(p.errs) == 0 && g.Images() > MaxImages {
		p.fail(root.Line, "%d cells × %d prompts × %d seeds = %d images, more than %d: sweep fewer values or split the grid",
			len(g.cells), len(g.Prompts), g.Seeds, g.Images(), MaxImages)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return g, nil
}

func (p *parser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		p.fail(n.Line, "%s must be a string", what)
		return ""
	}
	return n.Value
}

func (p *parser) seeds(n *yaml.Node) int {
	var s int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&s) != nil || s < 1 || s > MaxSeeds {
		p.fail(n.Line, "seeds must be an integer in 1..%d (the number of seeds per prompt), got %q", MaxSeeds, n.Value)
		return 1
	}
	return s
}

// parameters reads the parameters mapping into one axis per key, in Keys order.
func (p *parser) parameters(n *yaml.Node, rootLine int, def Setting) []Axis {
	if n == nil || n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		line := rootLine
		if n != nil {
			line = n.Line
		}
		p.fail(line, "the grid sweeps nothing: give parameters, each key with `value: X` or `values: [X, Y]` (keys: %s)", strings.Join(Keys, ", "))
		return nil
	}
	given := map[string]Axis{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(Keys, k.Value) {
			p.fail(k.Line, "unknown parameter %q (the keys are %s)", k.Value, strings.Join(Keys, ", "))
			continue
		}
		if _, dup := given[k.Value]; dup {
			p.fail(k.Line, "parameter %s is given twice", k.Value)
			continue
		}
		vals, lines := p.values(k.Value, v, def)
		given[k.Value] = Axis{Key: k.Value, Values: vals, Line: k.Line, Lines: lines}
	}
	axes := make([]Axis, len(Keys))
	for i, key := range Keys {
		a, ok := given[key]
		if !ok {
			a = Axis{Key: key, Values: []Value{def.Get(key)}, Lines: []int{0}}
		}
		axes[i] = a
	}
	return axes
}

// values reads `{value: X}` or `{values: [X, Y, …]}` for key.
func (p *parser) values(key string, n *yaml.Node, def Setting) (vals []Value, lines []int) {
	if n.Kind != yaml.MappingNode {
		p.fail(n.Line, "%s must be a mapping: `value: X` or `values: [X, Y]`", key)
		return nil, nil
	}
	var items []*yaml.Node
	seen := 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "value":
			seen++
			items = append(items, v)
		case "values":
			seen++
			if v.Kind != yaml.SequenceNode {
				p.fail(v.Line, "%s: values must be a list, e.g. [1, 2]", key)
				return nil, nil
			}
			if len(v.Content) == 0 {
				p.fail(v.Line, "%s: values is empty: list at least one value", key)
				return nil, nil
			}
			items = append(items, v.Content...)
		default:
			p.fail(k.Line, "%s: %q is not supported in a grid: give `value: X` or `values: [X, Y]`", key, k.Value)
			return nil, nil
		}
	}
	if seen != 1 {
		p.fail(n.Line, "%s: give exactly one of value and values", key)
		return nil, nil
	}
	seenVals := map[string]int{}
	for _, it := range items {
		v, ok := p.value(key, it, def)
		if !ok {
			continue
		}
		s := v.format(key)
		if first, dup := seenVals[s]; dup {
			p.fail(it.Line, "%s: value %s is listed twice (first on line %d)", key, s, first)
			continue
		}
		seenVals[s] = it.Line
		vals, lines = append(vals, v), append(lines, it.Line)
	}
	return vals, lines
}

// value reads and checks one value of key, with the sampler's own ranges and messages
// (infer.SampleOptions.Validate).
func (p *parser) value(key string, n *yaml.Node, def Setting) (Value, bool) {
	if n.Kind != yaml.ScalarNode {
		p.fail(n.Line, "%s: a value must be a single number or word", key)
		return Value{}, false
	}
	var v Value
	switch kindOf(key) {
	case kindString:
		v.Str = n.Value
	case kindInt:
		var i int
		if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			p.fail(n.Line, "%s: %q is not an integer", key, n.Value)
			return v, false
		}
		v.Num = float64(i)
	default:
		if t := n.ShortTag(); (t != "!!int" && t != "!!float") || n.Decode(&v.Num) != nil {
			p.fail(n.Line, "%s: %q is not a number", key, n.Value)
			return v, false
		}
	}
	switch key {
	case KeyCkpt:
		if strings.TrimSpace(v.Str) == "" {
			p.fail(n.Line, "ckpt: empty path: name a checkpoint file")
			return v, false
		}
		return v, true
	case KeySystem:
		sys, err := infer.ParseSystem(v.Str)
		if err != nil {
			p.fail(n.Line, "%s", flagToKey(err))
			return v, false
		}
		v.Str = sys.String()
		return v, true
	case KeyRes:
		if v.Num < infer.MinSide || v.Num > infer.MaxSide {
			p.fail(n.Line, "res must be in %d..%d, got %s", infer.MinSide, infer.MaxSide, n.Value)
			return v, false
		}
		return v, true
	}
	s := def
	s.set(key, v)
	o := s.Options()
	if o.TeaCache > 0 {
		o.TeaCoeffs = []float64{1, 0} // the checkpoint brings its own; here only the threshold is checked
	}
	if err := o.Validate(); err != nil {
		p.fail(n.Line, "%s", flagToKey(err))
		return v, false
	}
	return v, true
}

// flagToKey turns the sampler's flag-worded message ("--cfg must be …") into a grid's ("cfg must be …").
func flagToKey(err error) string {
	return strings.ReplaceAll(err.Error(), "--", "")
}

// prompts reads a suite name, a prompt file (one per line, relative to the grid's folder) or a list.
func (p *parser) prompts(n *yaml.Node, rootLine int) (string, []toyeval.Prompt) {
	if n == nil {
		p.fail(rootLine, "prompts missing: name a ToyEval suite (%s), a prompt file, or list prompts", strings.Join(toyeval.SuiteNames(), ", "))
		return "", nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if slices.Contains(toyeval.SuiteNames(), n.Value) {
			ps, _ := toyeval.Suite(n.Value)
			return n.Value, ps
		}
		return "", p.promptFile(n)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			p.fail(n.Line, "prompts is an empty list: list at least one prompt")
			return "", nil
		}
		var out []toyeval.Prompt
		for _, it := range n.Content {
			if it.Kind != yaml.ScalarNode {
				p.fail(it.Line, "prompts: each item must be a prompt's text")
				continue
			}
			if pr, err := customPrompt(len(out), it.Value); err != nil {
				p.fail(it.Line, "prompts: %v", err)
			} else {
				out = append(out, pr)
			}
		}
		return "", out
	}
	p.fail(n.Line, "prompts must be a suite name (%s), a prompt file, or a list of prompts", strings.Join(toyeval.SuiteNames(), ", "))
	return "", nil
}

func (p *parser) promptFile(n *yaml.Node) []toyeval.Prompt {
	path := n.Value
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		p.fail(n.Line, "prompts: %q is neither a ToyEval suite (%s) nor a readable prompt file: %v", n.Value, strings.Join(toyeval.SuiteNames(), ", "), err)
		return nil
	}
	if !utf8.Valid(b) {
		p.fail(n.Line, "prompts: %s is not UTF-8 text: re-save it as UTF-8", path)
		return nil
	}
	var out []toyeval.Prompt
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		pr, err := customPrompt(len(out), t)
		if err != nil {
			p.errs = append(p.errs, &GridError{File: path, Line: line, Msg: err.Error()})
			continue
		}
		out = append(out, pr)
	}
	if len(out) == 0 && len(p.errs) == 0 {
		p.fail(n.Line, "prompts: %s holds no prompts", path)
	}
	return out
}

// customPrompt is a prompt of the grid's own, judged by the facts the caption reader finds in it.
func customPrompt(i int, text string) (toyeval.Prompt, error) {
	if err := infer.CheckPrompt(text); err != nil {
		return toyeval.Prompt{}, err
	}
	facts, err := caption.Read(text, caption.En)
	if err != nil || len(facts) == 0 {
		facts, err = caption.Read(text, caption.Zh)
	}
	if err != nil || len(facts) == 0 {
		return toyeval.Prompt{}, fmt.Errorf("ToyEval finds nothing to check in %q: name shapes, colours, counts or positions as the captioner does (\"a red circle to the left of a blue square\")", text)
	}
	return toyeval.Prompt{ID: fmt.Sprintf("p%03d", i+1), Benchmark: toyeval.CatCustom, Category: toyeval.CatCustom, Text: text, Facts: facts}, nil
}

// cells expands the product of the axes and names each cell; two cells with the same name (two
// checkpoints in different folders with the same file name) are refused.
func (p *parser) cells(g *Grid) []Cell {
	n := 1
	for _, a := range g.Axes {
		n *= len(a.Values)
		if n > MaxCells {
			p.fail(a.Line, "more than %d cells: sweep fewer values", MaxCells)
			return nil
		}
	}
	swept := g.Swept()
	cells := make([]Cell, n)
	ids := map[string]int{}
	for i := range cells {
		var s Setting
		rest := i
		for k := len(g.Axes) - 1; k >= 0; k-- {
			a := g.Axes[k]
			s.set(a.Key, a.Values[rest%len(a.Values)])
			rest /= len(a.Values)
		}
		id := cellID(s, swept)
		if j, dup := ids[id]; dup {
			p.fail(swept[0].Line, "cells %d and %d are both named %q: give the checkpoints different file names", j, i, id)
			return nil
		}
		ids[id] = i
		cells[i] = Cell{Index: i, ID: id, Setting: s}
	}
	return cells
}

// cellID names a cell by its swept values, safe as a file name: "cfg-4_renorm-1", "ckpt-final_steps-20".
func cellID(s Setting, swept []Axis) string {
	if len(swept) == 0 {
		return "cell"
	}
	parts := make([]string, len(swept))
	for i, a := range swept {
		v := s.Format(a.Key)
		if a.Key == KeyCkpt {
			v = strings.TrimSuffix(filepath.Base(v), filepath.Ext(v))
		}
		parts[i] = a.Key + "-" + safeName(v)
	}
	return strings.Join(parts, "_")
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '+' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// reference finds the cell the reference mapping names; a grid of one cell needs none.
func (p *parser) reference(g *Grid, n *yaml.Node, rootLine int) int {
	swept := g.Swept()
	if n == nil {
		if len(g.cells) == 1 {
			return 0
		}
		p.fail(rootLine, "reference missing: name the cell every other is compared with, e.g. reference: {%s: %s}", swept[0].Key, g.cells[0].Setting.Format(swept[0].Key))
		return 0
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n.Line, "reference must be a mapping of the swept keys to values, e.g. {%s: %s}", firstKey(swept), "…")
		return 0
	}
	want := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ax := slices.IndexFunc(g.Axes, func(a Axis) bool { return a.Key == k.Value })
		if ax < 0 {
			p.fail(k.Line, "reference: unknown key %q (the swept keys are %s)", k.Value, keyList(swept))
			continue
		}
		val, ok := p.value(k.Value, v, g.cells[0].Setting)
		if !ok {
			continue
		}
		s := val.format(k.Value)
		if !slices.ContainsFunc(g.Axes[ax].Values, func(x Value) bool { return x.format(k.Value) == s }) {
			p.fail(v.Line, "reference %s: %s is not one of the grid's values (%s): the reference must be a cell of the grid", k.Value, s, valueList(g.Axes[ax]))
			continue
		}
		want[k.Value] = s
	}
	if len(p.errs) > 0 {
		return 0
	}
	var missing []string
	for _, a := range swept {
		if _, ok := want[a.Key]; !ok {
			missing = append(missing, a.Key)
		}
	}
	if len(missing) > 0 {
		p.fail(n.Line, "reference gives no value for the swept key(s) %s: name one value of every swept key", strings.Join(missing, ", "))
		return 0
	}
	for _, c := range g.cells {
		match := true
		for k, s := range want {
			if c.Setting.Format(k) != s {
				match = false
				break
			}
		}
		if match {
			return c.Index
		}
	}
	p.fail(n.Line, "reference is not a cell of the grid")
	return 0
}

func firstKey(axes []Axis) string {
	if len(axes) == 0 {
		return KeyCFG
	}
	return axes[0].Key
}

func keyList(axes []Axis) string {
	if len(axes) == 0 {
		return "none: the grid has one cell"
	}
	ks := make([]string, len(axes))
	for i, a := range axes {
		ks[i] = a.Key
	}
	return strings.Join(ks, ", ")
}

func valueList(a Axis) string {
	vs := make([]string, len(a.Values))
	for i, v := range a.Values {
		vs[i] = v.format(a.Key)
	}
	return strings.Join(vs, ", ")
}

// Marshal writes the resolved grid: every key explicit, prompts as the suite's name or inlined, the
// reference as its full cell. Parsing it gives the same grid; a sweep folder keeps it as grid.yaml.
func (g *Grid) Marshal() []byte {
	m := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v *yaml.Node) {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, v)
	}
	// Strings carry their tag so that the encoder quotes one that would read back as another type.
	scalar := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	num := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	add("method", scalar("grid"))
	add("name", scalar(g.Name))
	if g.Description != "" {
		add("description", scalar(g.Description))
	}
	params := &yaml.Node{Kind: yaml.MappingNode}
	ref := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	for _, a := range g.Axes {
		node := func(v Value) *yaml.Node {
			if kindOf(a.Key) == kindString {
				return scalar(v.Str)
			}
			return num(v.format(a.Key))
		}
		spec := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		if len(a.Values) == 1 {
			spec.Content = []*yaml.Node{scalar("value"), node(a.Values[0])}
		} else {
			seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, v := range a.Values {
				seq.Content = append(seq.Content, node(v))
			}
			spec.Content = []*yaml.Node{scalar("values"), seq}
			ref.Content = append(ref.Content, scalar(a.Key), node(g.cells[g.Reference].Setting.Get(a.Key)))
		}
		params.Content = append(params.Content, scalar(a.Key), spec)
	}
	add("parameters", params)
	if g.Suite != "" {
		add("prompts", scalar(g.Suite))
	} else {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, pr := range g.Prompts {
			seq.Content = append(seq.Content, scalar(pr.Text))
		}
		add("prompts", seq)
	}
	add("seeds", num(strconv.Itoa(g.Seeds)))
	if len(ref.Content) > 0 {
		add("reference", ref)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{m}}); err != nil {
		panic(fmt.Sprintf("ablation: encode grid: %v", err)) // the tree above is always encodable
	}
	enc.Close()
	return buf.Bytes()
}

// With is the grid with some keys' values replaced (each value spelled as in a grid file), checked as a
// grid file is; the reference keeps its values, which must still be among the new ones.
func (g *Grid) With(over map[string][]string) (*Grid, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(g.Marshal(), &doc); err != nil {
		return nil, fmt.Errorf("grid %s: %w", g.File, err)
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "parameters" {
			continue
		}
		params := root.Content[i+1]
		for k := 0; k+1 < len(params.Content); k += 2 {
			vals, ok := over[params.Content[k].Value]
			if !ok {
				continue
			}
			spec := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, v := range vals {
				seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: v})
			}
			spec.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Value: "values"}, seq}
			params.Content[k+1] = spec
		}
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("grid %s: %w", g.File, err)
	}
	out, err := ParseGrid(b, g.File+" with the flags' values", DefaultSetting(""))
	if err != nil {
		return nil, err
	}
	out.Name, out.Description = g.Name, g.Description
	return out, nil
}
