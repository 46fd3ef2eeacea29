package ckpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/textenc"
)

// Metadata keys of a bundle beside MetaConfig.
const (
	MetaTextConfig = "text_encoder_config" // arch.LMConfig as JSON
	MetaTokenizer  = "tokenizer"           // the tokenizer's JSON
	MetaTeaCache   = "teacache_coeffs"     // TeaCache polynomial, JSON array, highest power first
	MetaKind       = "kind"                // "lumina-bundle"
	// MetaCaptionTokens is the most caption tokens the DiT was trained on; samplers cut prompts there.
	MetaCaptionTokens = "max_caption_tokens"
	// MetaCaptionContext is arch.CaptionContextFull or CaptionContextPrompt (absent: full).
	MetaCaptionContext = "caption_context"
	MetaEMA            = "train.ema" // "1": the file holds EMA weights under TrainPrefix+"ema."
	bundleKind         = "lumina-bundle"
	// TextPrefix namespaces the text encoder's tensors; the DiT's keep the PyTorch reference's names,
	// so the DiT part of a bundle loads into tools/reference/nextdit.py by name.
	TextPrefix = "text_encoder."
	// TrainPrefix namespaces a training checkpoint's optimiser and EMA state.
	TrainPrefix = "train."

	// MetaTrainKind is the kind of the stage a training checkpoint was saved in (train.StageKind's
	// values), MetaTrainStage that stage's index.
	MetaTrainKind  = "train.kind"
	MetaTrainStage = "train.stage"
	// TrainKindTextEncoder is MetaTrainKind of stage 0, which trains the text encoder alone: its
	// checkpoints hold a DiT still at its initialisation.
	TrainKindTextEncoder = "text-encoder"
	// MetaResolutions lists the image sides, in pixels, the DiT was trained at: a JSON array, ascending.
	MetaResolutions = "trained_resolutions"
)

// Bundle is everything sampling needs in one file: the Next-DiT, the frozen text encoder and its
// tokenizer, plus free-form metadata (training command, ToyEval scores, TeaCache coefficients).
type Bundle struct {
	DiT       *model.Weights
	TextCfg   arch.LMConfig
	TextW     map[string]*tensor.Dense
	Tokenizer *textenc.Tokenizer
	Meta      map[string]string
}

// SaveBundle writes b atomically (see Save).
func SaveBundle(path string, b *Bundle) error {
	ts, meta, err := BundleFile(b)
	if err != nil {
		return fmt.Errorf("save bundle %s: %w", path, err)
	}
	return Save(path, ts, meta)
}

// WriteBundle encodes b to w as one safetensors file.
func WriteBundle(w io.Writer, b *Bundle) error {
	ts, meta, err := BundleFile(b)
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return Encode(w, ts, meta)
}

// BundleFile is what a bundle's file holds: the DiT's tensors under their own names, the text
// encoder's under TextPrefix, and BundleMeta. The weights are checked first.
func BundleFile(b *Bundle) (map[string]*tensor.Dense, map[string]string, error) {
	if err := b.DiT.Check(); err != nil {
		return nil, nil, err
	}
	ts := make(map[string]*tensor.Dense, len(b.DiT.T)+len(b.TextW))
	for k, v := range b.DiT.T {
		ts[k] = v
	}
	for k, v := range b.TextW {
		ts[TextPrefix+k] = v
	}
	meta, err := BundleMeta(b)
	if err != nil {
		return nil, nil, err
	}
	return ts, meta, nil
}

// BundleMeta is a bundle's metadata: b.Meta plus the configs, the tokenizer and the kind marker.
func BundleMeta(b *Bundle) (map[string]string, error) {
	meta := map[string]string{}
	for k, v := range b.Meta {
		// A bundle holds no training state, so it writes none of that state's metadata (MetaEMA
		// among it): a training checkpoint loaded and saved again, as `lumina teacache fit` does,
		// becomes a sampling checkpoint that loads.
		if !strings.HasPrefix(k, TrainPrefix) {
			meta[k] = v
		}
	}
	tc, err := json.Marshal(b.TextCfg)
	if err != nil {
		return nil, err
	}
	tok, err := b.Tokenizer.MarshalJSON()
	if err != nil {
		return nil, err
	}
	meta[MetaConfig] = ConfigMeta(b.DiT.Cfg)
	meta[MetaTextConfig] = string(tc)
	meta[MetaTokenizer] = string(tok)
	meta[MetaKind] = bundleKind
	return meta, nil
}

// DiTConfig is the Next-DiT config a bundle's metadata records, validated.
func DiTConfig(meta map[string]string) (arch.Config, error) {
	var cfg arch.Config
	if err := json.Unmarshal([]byte(meta[MetaConfig]), &cfg); err != nil {
		return cfg, fmt.Errorf("metadata %q: %s", MetaConfig, oneLine(err))
	}
	return cfg, cfg.Validate()
}

// LoadBundle reads a bundle strictly: the configs and tokenizer from its metadata, then exactly the
// tensors those configs call for, converted to dtype.
func LoadBundle(path string, dtype tensor.Dtype) (*Bundle, error) {
	fail := func(err error) (*Bundle, error) { return nil, fmt.Errorf("load checkpoint %s: %w", path, err) }
	head, err := ReadMeta(path)
	if err != nil {
		return nil, err
	}
	if head[MetaKind] != bundleKind {
		return fail(fmt.Errorf("not a lumina checkpoint bundle (no %q=%q in its metadata); is it a bare weights file?", MetaKind, bundleKind))
	}
	cfg, err := DiTConfig(head)
	if err != nil {
		return fail(err)
	}
	var tc arch.LMConfig
	if err := json.Unmarshal([]byte(head[MetaTextConfig]), &tc); err != nil {
		return fail(fmt.Errorf("metadata %q: %s", MetaTextConfig, oneLine(err)))
	}
	if err := tc.Validate(); err != nil {
		return fail(err)
	}
	tok, err := textenc.FromJSON([]byte(head[MetaTokenizer]))
	if err != nil {
		return fail(fmt.Errorf("metadata %q: %s", MetaTokenizer, oneLine(err)))
	}
	f, err := Load(path)
	if err != nil {
		return nil, err
	}
	b := &Bundle{DiT: &model.Weights{Cfg: cfg, Dtype: dtype, T: map[string]*tensor.Dense{}},
		TextCfg: tc, TextW: map[string]*tensor.Dense{}, Tokenizer: tok, Meta: f.Meta}
	// A training checkpoint is a bundle plus its training state under TrainPrefix; sampling from it
	// uses the EMA weights when the run kept them (they are what the run's evaluations scored).
	useEMA := f.Meta[MetaEMA] == "1"
	take := func(p arch.Param, stored string, dst map[string]*tensor.Dense) error {
		t, ok := f.Tensors[stored]
		if !ok {
			return fmt.Errorf("missing tensor %s", stored)
		}
		if !slices.Equal([]int(t.Shape()), p.Shape) {
			return fmt.Errorf("tensor %s has shape %v, want %v", stored, []int(t.Shape()), p.Shape)
		}
		dst[p.Name] = convert(t, dtype)
		return nil
	}
	known := map[string]bool{}
	for _, p := range cfg.ParamShapes() {
		stored := p.Name
		if useEMA {
			stored = TrainPrefix + "ema." + p.Name
		}
		known[p.Name] = true
		if err := take(p, stored, b.DiT.T); err != nil {
			return fail(err)
		}
	}
	for _, p := range tc.ParamShapes() {
		known[TextPrefix+p.Name] = true
		if err := take(arch.Param{Name: p.Name, Shape: p.Shape}, TextPrefix+p.Name, b.TextW); err != nil {
			return fail(err)
		}
	}
	for name := range f.Tensors {
		if !known[name] && !strings.HasPrefix(name, TrainPrefix) {
			return fail(fmt.Errorf("unexpected tensor %s", name))
		}
	}
	if tok.Size() != tc.Vocab {
		return fail(fmt.Errorf("tokenizer has %d tokens, text encoder vocabulary %d", tok.Size(), tc.Vocab))
	}
	return b, nil
}

// ReadMeta reads only a checkpoint's header metadata (the header is still checked against the file
// size, so a truncated file is reported here).
func ReadMeta(path string) (map[string]string, error) {
	var meta map[string]string
	err := withFile(path, func(f *os.File, size int64) (err error) {
		if _, meta, _, err = readHeader(f, size); err != nil {
			return errors.New(oneLine(err))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return meta, nil
}

// finalWeight is the DiT's output projection (arch.Config.ParamShapes), zero at initialisation.
const finalWeight = "final.weight"

// CheckTrainedDiT refuses a bundle whose DiT was never trained: a stage-0 checkpoint, or any whose final
// layer is still all zeros as initialised (DESIGN.md §2). Such a DiT predicts zero velocity everywhere,
// so sampling returns its starting noise.
func (b *Bundle) CheckTrainedDiT() error {
	const use = "sample from a checkpoint of a DiT stage (stage 1 or later: s1-….safetensors and on in the run's " +
		"checkpoints/ folder) or from the run's final.safetensors"
	if b.Meta[MetaTrainKind] == TrainKindTextEncoder {
		return fmt.Errorf("it is a stage-%s checkpoint of the text encoder's pre-training, whose DiT is untrained and "+
			"would sample pure noise: %s", b.Meta[MetaTrainStage], use)
	}
	if w, ok := b.DiT.T[finalWeight]; ok && allZero(w) {
		return fmt.Errorf("its DiT's final layer (%s) is all zeros, as initialised: the DiT was never trained and would "+
			"sample pure noise; %s", finalWeight, use)
	}
	return nil
}

func allZero(t *tensor.Dense) bool {
	switch d := t.Data().(type) {
	case []float32:
		return !slices.ContainsFunc(d, func(v float32) bool { return v != 0 })
	case []float64:
		return !slices.ContainsFunc(d, func(v float64) bool { return v != 0 })
	}
	return false
}

// Resolutions reads MetaResolutions: the image sides the DiT was trained at, ascending; nil when the
// checkpoint does not record them (files written before the key existed) or the value is unreadable.
func Resolutions(meta map[string]string) []int {
	var rs []int
	if err := json.Unmarshal([]byte(meta[MetaResolutions]), &rs); err != nil {
		return nil
	}
	rs = slices.DeleteFunc(rs, func(r int) bool { return r <= 0 })
	slices.Sort(rs)
	return slices.Compact(rs)
}

// WithResolutions adds the sides in add to rs, keeping it ascending and free of repeats.
func WithResolutions(rs []int, add ...int) []int {
	out := slices.Concat(rs, add)
	slices.Sort(out)
	return slices.Compact(out)
}

// ResolutionsMeta is the MetaResolutions value recording rs.
func ResolutionsMeta(rs []int) string {
	b, _ := json.Marshal(WithResolutions(nil, rs...)) // ints: cannot fail
	return string(b)
}
