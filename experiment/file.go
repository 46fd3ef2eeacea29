// Package experiment runs training experiments: an experiment file names a base preset, a step
// budget, seeds and variants (each an overlay of preset keys, as a --config file holds them); the
// engine trains every variant × seed in its own run folder, resumably and in shards, and summarises
// the runs' losses and ToyEval scores with bootstrap intervals and paired differences to the first
// variant. DESIGN.md §15.
//
// The package builds no graphs: runs train through train.Model values that the caller's NewModel
// makes (cmd/lumina builds the real networks), so the TUI reads experiments with these types.
package experiment

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lumina-workbench/lumina/train"
)

// Experiment is a parsed experiment file: every variant's preset resolved and validated.
type Experiment struct {
	// File is where it came from (in messages); Source its bytes, which an experiment folder keeps.
	File   string
	Source []byte

	Name, Description string
	// Base is the base preset's name; BasePreset the base with the common overlay and the budget.
	Base       string
	BasePreset *train.Preset
	Seeds      []uint64
	// Variants are in file order, a baseline first; the first is the reference of the paired differences.
	Variants []Variant
}

// Variant is one recipe of the experiment.
type Variant struct {
	Name string
	// Line is where the file names it.
	Line int
	// Preset is the resolved recipe (its seed set per run).
	Preset *train.Preset
}

// Limits on a file's size of work.
const (
	MaxSeeds    = 64
	MaxVariants = 64
)

// schema is the file's layout for the strict pass that refuses unknown keys with their lines; the
// overlays are applied from the parsed nodes afterwards, in file order.
type schema struct {
	Name        string                  `yaml:"name"`
	Description string                  `yaml:"description"`
	Base        string                  `yaml:"base"`
	Common      *train.Preset           `yaml:"common"`
	Steps       map[string]int          `yaml:"steps"`
	TotalSteps  int                     `yaml:"total_steps"`
	Seeds       []uint64                `yaml:"seeds"`
	Baseline    string                  `yaml:"baseline"`
	Variants    map[string]train.Preset `yaml:"variants"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// Error is a refusal of an experiment file, with the line at fault (0 when it is the whole file).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("experiment %s line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("experiment %s: %s", e.File, e.Msg)
}

// Read parses the experiment file at path.
func Read(path string) (*Experiment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	return Parse(b, path)
}

// Parse reads an experiment file; file names it in errors. Every refusal names the line at fault.
func Parse(b []byte, file string) (*Experiment, error) {
	where := "experiment " + file
	var sc schema
	if err := train.StrictDecode(b, &sc, where); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &Error{File: file, Msg: "the top level must be a mapping (name, base, steps or total_steps, seeds, variants)"}
	}
	root := doc.Content[0]
	e := &Experiment{File: file, Source: b, Name: sc.Name, Description: sc.Description, Base: sc.Base}
	bad := func(key, msg string) error { return &Error{File: file, Line: lineOf(root, key), Msg: msg} }
	if !nameRE.MatchString(e.Name) {
		return nil, bad("name", fmt.Sprintf("name %q: use 1–40 of a-z, 0-9, _ and -, starting with a letter or digit", e.Name))
	}
	if e.Base == "" {
		return nil, bad("base", "base: name the preset the variants overlay ("+strings.Join(train.PresetNames(), ", ")+")")
	}
	base, err := train.LoadPreset(e.Base, "")
	if err != nil {
		return nil, bad("base", err.Error())
	}
	if n := valueOf(root, "common"); n != nil {
		if valueOf(n, "seed") != nil {
			return nil, &Error{File: file, Line: lineOf(n, "seed"), Msg: "common: seed is set per run by the experiment's seeds; remove it"}
		}
		if err := train.OverlayNode(base, n, where+" common"); err != nil {
			return nil, err
		}
	}
	if err := applyBudget(base, sc, root, file); err != nil {
		return nil, err
	}
	if err := base.Validate(); err != nil {
		return nil, bad("common", "the base with the common overlay and the budget: "+err.Error())
	}
	if base.Eval.Suite == "" {
		return nil, bad("common", "eval.suite is empty: an experiment scores every run with ToyEval; set common: {eval: {suite: quick}}")
	}
	e.BasePreset = base
	if e.Seeds, err = checkSeeds(sc.Seeds, root, file); err != nil {
		return nil, err
	}
	if e.Variants, err = variants(e, sc, root, where); err != nil {
		return nil, err
	}
	return e, nil
}

// checkSeeds refuses an empty list, a repeated seed and too many.
func checkSeeds(seeds []uint64, root *yaml.Node, file string) ([]uint64, error) {
	line := lineOf(root, "seeds")
	switch {
	case len(seeds) == 0:
		return nil, &Error{File: file, Line: line, Msg: "seeds: give a list of distinct preset seeds, e.g. [1, 2] (two or more give intervals over seeds)"}
	case len(seeds) > MaxSeeds:
		return nil, &Error{File: file, Line: line, Msg: fmt.Sprintf("seeds: %d seeds, at most %d", len(seeds), MaxSeeds)}
	}
	for i, s := range seeds {
		if slices.Contains(seeds[:i], s) {
			return nil, &Error{File: file, Line: line, Msg: fmt.Sprintf("seeds: %d is listed twice; each seed is one run per variant", s)}
		}
	}
	return seeds, nil
}

// applyBudget sets the stages' steps: per stage (steps: {name: N}) or a total split over the enabled
// stages in proportion to their steps. Each stage's warm-up and sample and checkpoint intervals scale
// with its steps, so a shortened stage keeps its shape.
func applyBudget(p *train.Preset, sc schema, root *yaml.Node, file string) error {
	steps := valueOf(root, "steps")
	switch {
	case steps != nil && sc.TotalSteps != 0:
		return &Error{File: file, Line: lineOf(root, "total_steps"), Msg: "give steps (per stage) or total_steps, not both"}
	case steps != nil:
		if steps.Kind != yaml.MappingNode {
			return &Error{File: file, Line: steps.Line, Msg: "steps: a mapping of stage name to steps, e.g. {low-res: 300}"}
		}
		for i := 0; i+1 < len(steps.Content); i += 2 {
			name, n := steps.Content[i].Value, sc.Steps[steps.Content[i].Value]
			idx := slices.IndexFunc(p.Stages, func(s train.Stage) bool { return s.Name == name })
			if idx < 0 {
				return &Error{File: file, Line: steps.Content[i].Line, Msg: fmt.Sprintf("steps: preset %s has no stage %q (stages: %s)", p.Base, name, stageNames(p))}
			}
			if n < 1 {
				return &Error{File: file, Line: steps.Content[i].Line, Msg: fmt.Sprintf("steps: stage %s: %d steps, want at least 1", name, n)}
			}
			scaleStage(&p.Stages[idx], n)
		}
	case sc.TotalSteps != 0:
		if sc.TotalSteps < 0 {
			return &Error{File: file, Line: lineOf(root, "total_steps"), Msg: "total_steps is negative"}
		}
		return splitTotal(p, sc.TotalSteps, file, lineOf(root, "total_steps"))
	}
	return nil
}

// splitTotal shares total over the enabled stages in proportion to their steps (largest remainders).
func splitTotal(p *train.Preset, total int, file string, line int) error {
	var idx []int
	sum := 0
	for i, s := range p.Stages {
		if !s.Skip {
			if s.Steps == 0 {
				return &Error{File: file, Line: line, Msg: fmt.Sprintf("total_steps: stage %s has no steps to scale (minutes only); give steps per stage", s.Name)}
			}
			idx = append(idx, i)
			sum += s.Steps
		}
	}
	if total < len(idx) {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf("total_steps %d: want at least one step for each of the %d stages", total, len(idx))}
	}
	share := make([]int, len(idx))
	rem := make([]float64, len(idx))
	given := 0
	for k, i := range idx {
		exact := float64(total) * float64(p.Stages[i].Steps) / float64(sum)
		share[k] = max(1, int(math.Floor(exact)))
		rem[k] = exact - math.Floor(exact)
		given += share[k]
	}
	order := make([]int, len(idx))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for j := 0; given < total; j++ {
		share[order[j%len(order)]]++
		given++
	}
	for k, i := range idx {
		scaleStage(&p.Stages[i], share[k])
	}
	return nil
}

// scaleStage sets a stage's steps and scales its step-counted settings with them.
func scaleStage(s *train.Stage, steps int) {
	scale := func(v int) int {
		if v == 0 || s.Steps == 0 {
			return v
		}
		return max(1, int(math.Round(float64(v)*float64(steps)/float64(s.Steps))))
	}
	s.Warmup = min(scale(s.Warmup), steps)
	s.SampleEvery = scale(s.SampleEvery)
	s.CheckpointEvery = scale(s.CheckpointEvery)
	s.Steps = steps
}

func stageNames(p *train.Preset) string {
	var n []string
	for _, s := range p.Stages {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// variants resolves the baseline and each variant over the base, refusing empty, repeated and no-op
// variants and variants that train the same recipe.
func variants(e *Experiment, sc schema, root *yaml.Node, where string) ([]Variant, error) {
	file := e.File
	vn := valueOf(root, "variants")
	if vn == nil || vn.Kind != yaml.MappingNode || len(vn.Content) == 0 {
		return nil, &Error{File: file, Line: lineOf(root, "variants"), Msg: "variants: give a mapping of variant name to the preset keys it changes, e.g. {detailed: {captions: {mix: {detailed: 1}}}}"}
	}
	var out []Variant
	if sc.Baseline != "" {
		if !nameRE.MatchString(sc.Baseline) {
			return nil, &Error{File: file, Line: lineOf(root, "baseline"), Msg: fmt.Sprintf("baseline %q: use 1–40 of a-z, 0-9, _ and -", sc.Baseline)}
		}
		out = append(out, Variant{Name: sc.Baseline, Line: lineOf(root, "baseline"), Preset: e.BasePreset.Clone()})
	}
	baseRecipe, err := recipeOf(e.BasePreset)
	if err != nil {
		return nil, err
	}
	recipes := map[string]string{}
	if sc.Baseline != "" {
		recipes[string(baseRecipe)] = sc.Baseline
	}
	for i := 0; i+1 < len(vn.Content); i += 2 {
		key, val := vn.Content[i], vn.Content[i+1]
		name, line := key.Value, key.Line
		fail := func(msg string) error {
			return &Error{File: file, Line: line, Msg: fmt.Sprintf("variant %s: %s", name, msg)}
		}
		if !nameRE.MatchString(name) {
			return nil, fail("use 1–40 of a-z, 0-9, _ and -, starting with a letter or digit (it names the run folders)")
		}
		if slices.ContainsFunc(out, func(v Variant) bool { return v.Name == name }) {
			return nil, fail("the name is used twice")
		}
		if val.Kind != yaml.MappingNode || len(val.Content) == 0 {
			return nil, fail("empty: give the preset keys it changes (the base itself runs as `baseline: NAME`)")
		}
		if valueOf(val, "seed") != nil {
			return nil, &Error{File: file, Line: lineOf(val, "seed"), Msg: fmt.Sprintf("variant %s: seed is set per run by the experiment's seeds; remove it", name)}
		}
		p := e.BasePreset.Clone()
		if err := train.OverlayNode(p, val, where+" variant "+name); err != nil {
			return nil, err
		}
		if err := p.Validate(); err != nil {
			return nil, fail(err.Error())
		}
		if p.Eval != e.BasePreset.Eval {
			return nil, fail("eval differs from the base's: every variant is scored on the same prompts and seed, so set eval under common")
		}
		r, err := recipeOf(p)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(r, baseRecipe) {
			return nil, fail("changes nothing relative to the base (every key it sets has the base's value); to run the base itself, use `baseline: NAME`")
		}
		if other, ok := recipes[string(r)]; ok {
			return nil, fail(fmt.Sprintf("trains the same recipe as variant %s", other))
		}
		recipes[string(r)] = name
		out = append(out, Variant{Name: name, Line: line, Preset: p})
	}
	if len(out) > MaxVariants {
		return nil, &Error{File: file, Line: vn.Line, Msg: fmt.Sprintf("variants: %d, at most %d", len(out), MaxVariants)}
	}
	for i := range out {
		out[i].Preset.Name = e.Name + "-" + out[i].Name
	}
	return out, nil
}

// recipeOf is what makes two presets train the same run: every field but the name.
func recipeOf(p *train.Preset) ([]byte, error) {
	q := p.Clone()
	q.Name, q.Description = "", ""
	b, err := q.Marshal()
	if err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	return b, nil
}

// valueOf is the value of key in mapping m, nil when absent.
func valueOf(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// lineOf is the line of key in mapping m, or m's own line when absent.
func lineOf(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return m.Line
}

// Runs lists the experiment's runs in the order they train: seed by seed, and within a seed every
// variant, so the variants share whatever else the machine does meanwhile.
func (e *Experiment) Runs() []RunID {
	var out []RunID
	for si, s := range e.Seeds {
		for vi, v := range e.Variants {
			out = append(out, RunID{Variant: v.Name, Seed: s, Group: si*len(e.Variants) + vi, variant: vi, seed: si})
		}
	}
	return out
}

// RunID is one variant trained with one seed.
type RunID struct {
	Variant string `json:"variant"`
	Seed    uint64 `json:"seed"`
	// Group is the run's place in Runs: its shard is Group mod N.
	Group int `json:"group"`

	variant, seed int
}

// Folder is the run folder's path inside an experiment folder.
func (r RunID) Folder() string { return fmt.Sprintf("%s/%s-seed%d", RunsDir, r.Variant, r.Seed) }

// Preset is the run's recipe: its variant's, with its seed.
func (e *Experiment) Preset(r RunID) *train.Preset {
	p := e.Variants[r.variant].Preset.Clone()
	p.Seed = r.Seed
	return p
}
