package train

// Presets: the whole training recipe of a run as one YAML document. The shipped presets are embedded
// in the binary (presets/*.yaml); a user's --config FILE overlays one of them field by field, so a file
// that changes one stage's step count is three lines long.

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/flow"
)

//go:embed presets/*.yaml
var presetFS embed.FS

// DefaultPreset is the preset `lumina train` uses without --preset.
const DefaultPreset = "tiny-cpu"

// StageKind is what a stage trains.
type StageKind string

const (
	// KindTextEncoder is stage 0: the text encoder's next-token pre-training on the captioner's corpus.
	// Its batches carry captions only.
	KindTextEncoder StageKind = "text-encoder"
	// KindDiT trains the Next-DiT on images with the flow-matching objective (the text encoder frozen).
	KindDiT StageKind = "dit"
)

// LR schedules after the warm-up.
const (
	ScheduleConstant = "constant" // the paper's: lr stays at its peak
	ScheduleCosine   = "cosine"   // to min_lr at the last step (needs steps)
)

// Preset is a training recipe. Stage N of the command line is Stages[N].
type Preset struct {
	// Base names the embedded preset the recipe starts from: the one a --config file overlays.
	// LoadPreset fills it, and a run's config.yaml records it, so that the file given back as --config
	// overlays the same preset. It is not part of the recipe: two presets that differ only in Base train
	// the same run.
	Base        string `yaml:"base,omitempty"`
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	Seed        uint64 `yaml:"seed"`
	// Model and TextEncoder name model configs (arch.LookupConfig); this package only passes them on.
	Model       string `yaml:"model"`
	TextEncoder string `yaml:"text_encoder"`

	Data        DataConfig       `yaml:"data"`
	Objective   ObjectiveConfig  `yaml:"objective"`
	Optimizer   OptimizerConfig  `yaml:"optimizer"`
	Captions    CaptionConfig    `yaml:"captions"`
	Samples     SampleConfig     `yaml:"samples"`
	Eval        EvalConfig       `yaml:"eval"`
	Checkpoints CheckpointConfig `yaml:"checkpoints"`
	// MaxBadSteps is how many non-finite steps in a row stop the run.
	MaxBadSteps int `yaml:"max_bad_steps"`
	// CaptionTokens caps the caption tokens (with <bos> and the system prompt) the DiT sees; longer
	// captions are cut. 0 means the text encoder's maximum. At the tiny scale caption tokens, not image
	// tokens, dominate a step's cost, so the CPU preset caps them.
	CaptionTokens int `yaml:"caption_tokens,omitempty"`
	// CaptionContext is what of system prompt + caption the DiT attends to: "full" (the paper's way, the
	// default) or "prompt" (<bos> and the caption, its features computed after the system prompt; see
	// arch.CaptionContextPrompt). With "prompt", caption_tokens counts the caption's tokens only.
	CaptionContext string `yaml:"caption_context,omitempty"`
	// TextFeatureLayer is the text encoder layer whose hidden states are the caption features (see
	// arch.LMConfig.FeatureLayer): 0 = hidden_states[-2], the paper's choice.
	TextFeatureLayer int `yaml:"text_feature_layer,omitempty"`
	// RopeGrid sets the model's arch.Config.RopeGrid: image positions in units of 1/RopeGrid of the
	// image side, so that every resolution's stage trains the same positions. 0 counts patches.
	RopeGrid int `yaml:"rope_grid,omitempty"`

	Stages []Stage `yaml:"stages"`
}

// DataConfig is the procedural dataset every stage draws from (stage subsets are its best items).
type DataConfig struct {
	Items   int                 `yaml:"items"`
	Sampler world.SamplerConfig `yaml:"sampler"`
}

// ObjectiveConfig is the flow-matching time sampling.
type ObjectiveConfig struct {
	TDist flow.TimeDist `yaml:"t_dist"`
	// ResolutionShift applies the shift with μ = MuForTokens(tokens) unless ShiftMu is set.
	ResolutionShift bool     `yaml:"resolution_shift"`
	ShiftMu         *float64 `yaml:"shift_mu,omitempty"`
	// Patch is the model's patch size, for the token count of the shift.
	Patch int `yaml:"patch"`
}

// OptimizerConfig is AdamW's settings (docs/DESIGN.md §4.3), passed on to the model; lr is per stage.
type OptimizerConfig struct {
	Beta1       float64 `yaml:"beta1"`
	Beta2       float64 `yaml:"beta2"`
	Eps         float64 `yaml:"eps"`
	WeightDecay float64 `yaml:"weight_decay"`
	// GradClip is the global-norm clip (0 = none).
	GradClip float64 `yaml:"grad_clip"`
}

// SampleConfig is the periodic sample grid.
type SampleConfig struct {
	// Prompts are plain captions; the stage's system prompt rule is applied to them (Template A for the
	// domain rule, Template C on dual-panel stages).
	Prompts []string `yaml:"prompts"`
	Seed    uint64   `yaml:"seed"`
}

// EvalConfig is the ToyEval run at every image stage's end (when the model can sample).
type EvalConfig struct {
	// Suite is a toyeval.Suite name; "" turns the end-of-stage evaluation off.
	Suite string `yaml:"suite"`
	Seed  uint64 `yaml:"seed"`
}

// CheckpointConfig is shared by all stages.
type CheckpointConfig struct {
	// KeepLast is how many periodic checkpoints survive; every stage's final checkpoint is always kept,
	// since the next stage starts from it.
	KeepLast int `yaml:"keep_last"`
}

// DualPanelConfig turns a stage into the unified dual-panel fine-tuning with Template C.
type DualPanelConfig struct {
	// Frac is the share of steps whose whole batch is dual-panel (res wide, 2·res tall); the other steps
	// are ordinary images, so the single-image task is not forgotten.
	Frac float64 `yaml:"frac"`
	// Kinds are the lower-panel kinds drawn from: depth, edge, mask.
	Kinds []world.PanelKind `yaml:"kinds"`
}

// Stage is one training stage.
type Stage struct {
	Name string    `yaml:"name"`
	Kind StageKind `yaml:"kind"`
	// Skip leaves the stage out of a run of all stages (it still runs with --stage N).
	Skip bool `yaml:"skip,omitempty"`
	// Resolution is the image side in pixels (image stages).
	Resolution int `yaml:"resolution,omitempty"`
	// Subset is the fraction of the dataset, best quality first, the stage draws from: 1, 0.1, 0.01.
	Subset float64 `yaml:"subset,omitempty"`
	// Steps and Minutes bound the stage; with both, whichever comes first. A minutes-bounded stage
	// resumes with its remaining time, so its step count (and loss curve) depends on the machine.
	Steps   int     `yaml:"steps,omitempty"`
	Minutes float64 `yaml:"minutes,omitempty"`
	Batch   int     `yaml:"batch"`
	LR      float64 `yaml:"lr"`
	// Warmup is the number of steps of linear warm-up from lr/warmup to lr.
	Warmup     int     `yaml:"warmup"`
	LRSchedule string  `yaml:"lr_schedule,omitempty"`
	MinLR      float64 `yaml:"min_lr,omitempty"`
	EMADecay   float64 `yaml:"ema_decay"`
	// AuxLoss adds the second forward on AvgPool4 of the image with fresh noise and t.
	AuxLoss bool `yaml:"aux_loss,omitempty"`
	// Captions overrides the preset's caption config for this stage.
	Captions  *CaptionConfig   `yaml:"captions,omitempty"`
	DualPanel *DualPanelConfig `yaml:"dual_panel,omitempty"`
	// SampleEvery and CheckpointEvery are in steps (0 = only at the stage end).
	SampleEvery     int `yaml:"sample_every,omitempty"`
	CheckpointEvery int `yaml:"checkpoint_every,omitempty"`
	// NoEval turns off the ToyEval at this stage's end.
	NoEval bool `yaml:"no_eval,omitempty"`
}

// CaptionConfig returns the stage's caption config (its own, or the preset's).
func (p *Preset) CaptionConfig(stage int) CaptionConfig {
	if c := p.Stages[stage].Captions; c != nil {
		return *c
	}
	return p.Captions
}

// PresetNames lists the embedded presets.
func PresetNames() []string {
	ents, _ := presetFS.ReadDir("presets")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// LoadPreset returns the embedded preset name ("" = DefaultPreset), overlaid with configFile when it is
// not "". The file may name its own base preset (`base: NAME`); naming one that differs from an
// explicit name is refused. The result is validated.
func LoadPreset(name, configFile string) (*Preset, error) {
	var file []byte
	if configFile != "" {
		b, err := os.ReadFile(configFile)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		file = b
		var head struct {
			Base string `yaml:"base"`
		}
		if err := yaml.Unmarshal(b, &head); err != nil {
			return nil, fmt.Errorf("config %s: %w", configFile, err)
		}
		switch {
		case head.Base != "" && name != "" && head.Base != name:
			return nil, fmt.Errorf("config %s: base %q differs from --preset %q; drop one of them", configFile, head.Base, name)
		case head.Base != "":
			name = head.Base
		}
	}
	if name == "" {
		name = DefaultPreset
	}
	p, err := embeddedPreset(name)
	if err != nil {
		return nil, err
	}
	if file != nil {
		if err := overlay(p, file, configFile); err != nil {
			return nil, err
		}
	}
	p.Base = name
	if err := p.Validate(); err != nil {
		where := "preset " + name
		if configFile != "" {
			where = fmt.Sprintf("config %s (over preset %s)", configFile, name)
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return p, nil
}

func embeddedPreset(name string) (*Preset, error) {
	b, err := presetFS.ReadFile(path.Join("presets", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("unknown preset %q (allowed: %s)", name, strings.Join(PresetNames(), ", "))
	}
	p, err := ParsePreset(b, "preset "+name)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ParsePreset reads a complete preset (as config.yaml of a run folder holds it). where names the
// source in errors. Unknown keys are refused; the result is not validated.
func ParsePreset(b []byte, where string) (*Preset, error) {
	var p Preset
	if err := strictDecode(b, &p, where); err != nil {
		return nil, err
	}
	return &p, nil
}

// strictDecode decodes with unknown keys refused, and rewrites yaml's messages to name the key and
// the file.
func strictDecode(b []byte, v any, where string) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file changes nothing
		}
		return fmt.Errorf("%s: %s", where, yamlMessage(err))
	}
	return nil
}

var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = unknownField.ReplaceAllString(msg, `line $1: unknown key "$2"`)
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	return strings.ReplaceAll(msg, "\n  ", "; ")
}

// overlay decodes a config file over p: scalars and blocks replace what they name, and each entry of
// `stages` overlays the base stage of the same name (a new name appends a stage).
func overlay(p *Preset, b []byte, file string) error {
	where := "config " + file
	// A strict pass first, so unknown keys and wrong types anywhere are refused with their line.
	var check Preset
	if err := strictDecode(b, &check, where); err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %s", where, yamlMessage(err))
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return overlayNode(p, doc.Content[0], where)
}

// StrictDecode decodes a YAML document into v with unknown keys refused, naming where and the line
// in errors: the check a file that holds preset keys (a --config file, an experiment file whose
// blocks are overlays) must pass before OverlayNode applies any of it.
func StrictDecode(b []byte, v any, where string) error { return strictDecode(b, v, where) }

// OverlayNode overlays p with root, a mapping of preset keys as a --config file holds them (the same
// rules as LoadPreset's), naming where and root's lines in errors. The document root came from must
// have passed StrictDecode: this pass does not refuse unknown keys.
func OverlayNode(p *Preset, root *yaml.Node, where string) error { return overlayNode(p, root, where) }

func overlayNode(p *Preset, root *yaml.Node, where string) error {
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: the top level must be a mapping of keys", where)
	}
	// Everything but stages overlays directly: yaml.v3 leaves fields the file does not name untouched.
	var stagesNode *yaml.Node
	rest := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "stages" {
			stagesNode = root.Content[i+1]
			continue
		}
		rest.Content = append(rest.Content, root.Content[i], root.Content[i+1])
	}
	if err := rest.Decode(p); err != nil {
		return fmt.Errorf("%s: %s", where, yamlMessage(err))
	}
	if stagesNode == nil {
		return nil
	}
	if stagesNode.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s line %d: stages must be a list", where, stagesNode.Line)
	}
	for _, sn := range stagesNode.Content {
		var named struct {
			Name string `yaml:"name"`
		}
		if err := sn.Decode(&named); err != nil {
			return fmt.Errorf("%s line %d: %s", where, sn.Line, yamlMessage(err))
		}
		if named.Name == "" {
			return fmt.Errorf("%s line %d: a stage needs a name (it overlays the base stage of that name)", where, sn.Line)
		}
		idx := slices.IndexFunc(p.Stages, func(s Stage) bool { return s.Name == named.Name })
		if idx < 0 {
			var s Stage
			if err := sn.Decode(&s); err != nil {
				return fmt.Errorf("%s line %d: %s", where, sn.Line, yamlMessage(err))
			}
			p.Stages = append(p.Stages, s)
			continue
		}
		if err := sn.Decode(&p.Stages[idx]); err != nil {
			return fmt.Errorf("%s line %d: %s", where, sn.Line, yamlMessage(err))
		}
	}
	return nil
}

// Marshal is the preset as a run folder's config.yaml holds it: every field spelled out, zeros and
// empty lists included, so that the file reads back to exactly this preset both alone (ParsePreset)
// and as a --config file over its base preset (LoadPreset), where a field left out would keep the
// base's value.
func (p *Preset) Marshal() ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode preset: %w", err)
	}
	if err := spellOut(&doc, reflect.ValueOf(p)); err != nil {
		return nil, fmt.Errorf("encode preset: %w", err)
	}
	return encodeYAML(&doc)
}

// recipe is the preset's identity: the compact encoding (omitempty fields left out) without Base.
// Runs compare it with the folder's config, and checkpoints carry its hash; it is the encoding older
// builds wrote as config.yaml, so their checkpoints keep their hash.
func (p *Preset) recipe() ([]byte, error) {
	q := *p
	q.Base = ""
	return encodeYAML(&q)
}

func encodeYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode preset: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode preset: %w", err)
	}
	return buf.Bytes(), nil
}

// spellOut walks n, the YAML encoding of v, and adds every struct field the encoder left out under
// omitempty with its zero value, and writes nil lists and pointers as null: decoding null sets them
// to nil, while [] would decode to an empty list, which some fields (sampler weights) read as set.
func spellOut(n *yaml.Node, v reflect.Value) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch {
	case v.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		t := v.Type()
		i := 0 // the next key of n: the encoder writes fields in declaration order
		for f := range t.NumField() {
			sf := t.Field(f)
			name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if !sf.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			fv := v.Field(f)
			if i < len(n.Content) && n.Content[i].Value == name {
				if err := spellField(n.Content[i+1], fv); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				i += 2
				continue
			}
			val := &yaml.Node{}
			if err := val.Encode(fv.Interface()); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if err := spellField(val, fv); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}
			n.Content = slices.Insert(n.Content, i, key, val)
			i += 2
		}
	case v.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode && v.Len() == len(n.Content):
		for j := range n.Content {
			if err := spellField(n.Content[j], v.Index(j)); err != nil {
				return err
			}
		}
	}
	return nil
}

// spellField is spellOut for one value, writing a nil list, map or pointer as null.
func spellField(n *yaml.Node, v reflect.Value) error {
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer:
		if v.IsNil() {
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
			return nil
		}
	}
	return spellOut(n, v)
}

// Clone is a deep copy.
func (p *Preset) Clone() *Preset {
	b, err := p.Marshal()
	if err != nil {
		panic(err) // a preset always encodes
	}
	q, err := ParsePreset(b, "clone")
	if err != nil {
		panic(err)
	}
	return q
}

// MaxResolution is the largest stage resolution: the renderer's limit for a dual panel of res × 2·res.
const MaxResolution = world.MaxRenderSide / 2

// Validate checks every field, naming it (stages by index and name) and its allowed range.
func (p *Preset) Validate() error {
	if p.Name == "" {
		return errors.New("name: empty")
	}
	if p.Model == "" {
		return errors.New("model: empty (a model config name such as tiny)")
	}
	if p.TextEncoder == "" {
		return errors.New("text_encoder: empty (a text encoder config name)")
	}
	if _, err := arch.ParseCaptionContext(p.CaptionContext); err != nil {
		return err
	}
	if p.TextFeatureLayer != 0 {
		// The vocabulary is only known once the tokenizer is built; any valid size checks the layer.
		tc, err := arch.LookupLMConfig(p.TextEncoder, 8)
		if err != nil {
			return fmt.Errorf("text_encoder: %w", err)
		}
		tc.FeatureLayer = p.TextFeatureLayer
		if err := tc.Validate(); err != nil {
			return fmt.Errorf("text_feature_layer %d: %w", p.TextFeatureLayer, err)
		}
	}
	if p.RopeGrid < 0 || p.RopeGrid > arch.MaxRopeGrid {
		return fmt.Errorf("rope_grid %d outside 0..%d (0 = positions in patches)", p.RopeGrid, arch.MaxRopeGrid)
	}
	if p.CaptionTokens != 0 && (p.CaptionTokens < 8 || p.CaptionTokens > 1024) {
		return fmt.Errorf("caption_tokens %d outside 8..1024 (0 = the text encoder's maximum)", p.CaptionTokens)
	}
	if p.Data.Items < 1 || p.Data.Items > dataset.MaxItems {
		return fmt.Errorf("data.items %d outside 1..%d", p.Data.Items, dataset.MaxItems)
	}
	if err := p.Data.Sampler.Validate(); err != nil {
		return fmt.Errorf("data.sampler: %w", err)
	}
	o := p.Objective
	if err := o.TDist.Validate(); err != nil {
		return fmt.Errorf("objective.t_dist: %w", err)
	}
	if o.Patch < 1 || o.Patch > 16 {
		return fmt.Errorf("objective.patch %d outside 1..16", o.Patch)
	}
	if o.ShiftMu != nil && (math.IsNaN(*o.ShiftMu) || math.Abs(*o.ShiftMu) > 10) {
		return fmt.Errorf("objective.shift_mu %v outside [-10, 10]", *o.ShiftMu)
	}
	op := p.Optimizer
	if !(op.Beta1 >= 0 && op.Beta1 < 1) {
		return fmt.Errorf("optimizer.beta1 %v outside [0, 1)", op.Beta1)
	}
	if !(op.Beta2 >= 0 && op.Beta2 < 1) {
		return fmt.Errorf("optimizer.beta2 %v outside [0, 1)", op.Beta2)
	}
	if !(op.Eps > 0 && op.Eps <= 1) {
		return fmt.Errorf("optimizer.eps %v outside (0, 1]", op.Eps)
	}
	if !(op.WeightDecay >= 0 && op.WeightDecay <= 1) {
		return fmt.Errorf("optimizer.weight_decay %v outside [0, 1]", op.WeightDecay)
	}
	if !(op.GradClip >= 0 && op.GradClip <= 1e6) {
		return fmt.Errorf("optimizer.grad_clip %v outside [0, 1e6] (0 = no clipping)", op.GradClip)
	}
	if err := p.Captions.Validate(); err != nil {
		return fmt.Errorf("captions.%w", err)
	}
	if len(p.Samples.Prompts) > 64 {
		return fmt.Errorf("samples.prompts: %d prompts, at most 64 fit a grid", len(p.Samples.Prompts))
	}
	for i, s := range p.Samples.Prompts {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("samples.prompts[%d] is empty", i)
		}
	}
	if p.Eval.Suite != "" && !slices.Contains(toyeval.SuiteNames(), p.Eval.Suite) {
		return fmt.Errorf("eval.suite %q unknown (allowed: %s, or \"\" for none)", p.Eval.Suite, strings.Join(toyeval.SuiteNames(), ", "))
	}
	if p.Checkpoints.KeepLast < 1 || p.Checkpoints.KeepLast > 1000 {
		return fmt.Errorf("checkpoints.keep_last %d outside 1..1000", p.Checkpoints.KeepLast)
	}
	if p.MaxBadSteps < 1 || p.MaxBadSteps > 1000 {
		return fmt.Errorf("max_bad_steps %d outside 1..1000", p.MaxBadSteps)
	}
	if len(p.Stages) == 0 {
		return errors.New("stages: none")
	}
	names := map[string]bool{}
	enabled := 0
	for i := range p.Stages {
		s := &p.Stages[i]
		if err := s.validate(p.Objective.Patch); err != nil {
			return fmt.Errorf("stages[%d] (%s).%w", i, s.Name, err)
		}
		if names[s.Name] {
			return fmt.Errorf("stages[%d]: name %q used twice", i, s.Name)
		}
		names[s.Name] = true
		if !s.Skip {
			enabled++
		}
	}
	if enabled == 0 {
		return errors.New("stages: every stage is skipped")
	}
	return nil
}

var stageNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

func (s *Stage) validate(patch int) error {
	if !stageNameRE.MatchString(s.Name) {
		return fmt.Errorf("name %q: use 1–32 of a-z, 0-9, _ and -, starting with a letter or digit", s.Name)
	}
	switch s.Kind {
	case KindTextEncoder, KindDiT:
	default:
		return fmt.Errorf("kind %q unknown (allowed: %s, %s)", s.Kind, KindTextEncoder, KindDiT)
	}
	if s.Steps < 0 || s.Steps > 100_000_000 {
		return fmt.Errorf("steps %d outside 0..100000000", s.Steps)
	}
	if !(s.Minutes >= 0 && s.Minutes <= 100_000) {
		return fmt.Errorf("minutes %v outside [0, 100000]", s.Minutes)
	}
	if s.Steps == 0 && s.Minutes == 0 {
		return errors.New("steps: give steps or minutes (or both)")
	}
	if s.Batch < 1 || s.Batch > 4096 {
		return fmt.Errorf("batch %d outside 1..4096", s.Batch)
	}
	if !(s.LR > 0 && s.LR <= 1) {
		return fmt.Errorf("lr %v outside (0, 1]", s.LR)
	}
	if s.Warmup < 0 || (s.Steps > 0 && s.Warmup > s.Steps) {
		return fmt.Errorf("warmup %d outside 0..steps (%d)", s.Warmup, s.Steps)
	}
	switch s.LRSchedule {
	case "", ScheduleConstant:
	case ScheduleCosine:
		if s.Steps == 0 {
			return errors.New("lr_schedule: cosine needs steps (a minutes-only stage has no known end)")
		}
		if !(s.MinLR >= 0 && s.MinLR <= s.LR) {
			return fmt.Errorf("min_lr %v outside [0, lr]", s.MinLR)
		}
	default:
		return fmt.Errorf("lr_schedule %q unknown (allowed: constant, cosine)", s.LRSchedule)
	}
	if !(s.EMADecay >= 0 && s.EMADecay < 1) {
		return fmt.Errorf("ema_decay %v outside [0, 1) (0 = no EMA)", s.EMADecay)
	}
	if s.SampleEvery < 0 {
		return fmt.Errorf("sample_every %d is negative", s.SampleEvery)
	}
	if s.CheckpointEvery < 0 {
		return fmt.Errorf("checkpoint_every %d is negative", s.CheckpointEvery)
	}
	if s.Captions != nil {
		if err := s.Captions.Validate(); err != nil {
			return fmt.Errorf("captions.%w", err)
		}
	}
	if s.Kind == KindTextEncoder {
		if s.AuxLoss || s.DualPanel != nil {
			return errors.New("aux_loss/dual_panel: a text-encoder stage trains on captions only")
		}
		return nil
	}
	if s.Resolution < world.MinRenderSide || s.Resolution > MaxResolution || s.Resolution%4 != 0 || s.Resolution%patch != 0 {
		return fmt.Errorf("resolution %d: must be in %d..%d and divisible by 4 (for AvgPool4) and by objective.patch (%d)",
			s.Resolution, world.MinRenderSide, MaxResolution, patch)
	}
	if s.AuxLoss && (s.Resolution/4)%patch != 0 {
		return fmt.Errorf("aux_loss: the pooled image (%d px) is not divisible by objective.patch (%d); raise resolution or turn aux_loss off", s.Resolution/4, patch)
	}
	if !(s.Subset > 0 && s.Subset <= 1) {
		return fmt.Errorf("subset %v outside (0, 1] (1 = all data, 0.1 = the best 10%%)", s.Subset)
	}
	if d := s.DualPanel; d != nil {
		if !(d.Frac > 0 && d.Frac <= 1) {
			return fmt.Errorf("dual_panel.frac %v outside (0, 1]", d.Frac)
		}
		if len(d.Kinds) == 0 {
			return errors.New("dual_panel.kinds: empty (allowed: depth, edge, mask)")
		}
		for _, k := range d.Kinds {
			if int(k) >= world.NumPanelKinds {
				return fmt.Errorf("dual_panel.kinds: %d unknown", k)
			}
		}
	}
	return nil
}
