package ckpt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/textenc"
)

func testBundle(t *testing.T) *Bundle {
	t.Helper()
	cfg, _ := arch.LookupConfig("tiny")
	tok, err := textenc.Build([]string{"a red circle", "一个红色圆形"}, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	// A non-default feature layer, so the round trip shows it is stored with the encoder's config.
	tc := arch.LMConfig{Vocab: tok.Size(), Dim: 16, Layers: 3, Heads: 2, KVHeads: 1, MultipleOf: 16, MaxLen: 8, NormEps: 1e-5, FeatureLayer: 1}
	return newBundle(t, cfg, tc, tok, map[string]string{"note": "test"})
}

// newBundle is a bundle of freshly initialised weights of the two configs.
func newBundle(tb testing.TB, cfg arch.Config, tc arch.LMConfig, tok *textenc.Tokenizer, meta map[string]string) *Bundle {
	tb.Helper()
	w, err := model.NewWeights(cfg, tensor.Float32, 1)
	if err != nil {
		tb.Fatal(err)
	}
	tw, err := textenc.NewLMWeights(tc, tensor.Float32, 2)
	if err != nil {
		tb.Fatal(err)
	}
	return &Bundle{DiT: w, TextCfg: tc, TextW: tw, Tokenizer: tok, Meta: meta}
}

func TestBundleRoundTrip(t *testing.T) {
	b := testBundle(t)
	path := filepath.Join(t.TempDir(), "b.safetensors")
	if err := SaveBundle(path, b); err != nil {
		t.Fatal(err)
	}
	got, err := LoadBundle(path, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if got.DiT.Cfg != b.DiT.Cfg || got.TextCfg != b.TextCfg || got.Meta["note"] != "test" {
		t.Fatalf("configs or metadata differ: %+v %+v", got.DiT.Cfg, got.TextCfg)
	}
	for k, v := range b.DiT.T {
		if !equalData(v, got.DiT.T[k]) {
			t.Fatalf("DiT tensor %s differs", k)
		}
	}
	for k, v := range b.TextW {
		if !equalData(v, got.TextW[k]) {
			t.Fatalf("text encoder tensor %s differs", k)
		}
	}
	ids1, _, _ := b.Tokenizer.Encode("a red circle 一个", 10)
	ids2, _, _ := got.Tokenizer.Encode("a red circle 一个", 10)
	if len(ids1) != len(ids2) || len(ids1) == 0 {
		t.Fatalf("tokenizer differs: %v vs %v", ids1, ids2)
	}
}

func TestBundleBadFiles(t *testing.T) {
	dir := t.TempDir()
	bare := filepath.Join(dir, "bare.safetensors")
	b := testBundle(t)
	if err := Save(bare, b.DiT.T, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBundle(bare, tensor.Float32); err == nil || !strings.Contains(err.Error(), "not a lumina checkpoint bundle") {
		t.Fatalf("bare weights: %v", err)
	}
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveBundle(good, b); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	cut := filepath.Join(dir, "cut.safetensors")
	os.WriteFile(cut, data[:len(data)-100], 0o644)
	if _, err := LoadBundle(cut, tensor.Float32); err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), cut) {
		t.Fatalf("truncated bundle: want a one-line error naming the file, got %v", err)
	}
	if _, err := LoadBundle(filepath.Join(dir, "missing.safetensors"), tensor.Float32); err == nil {
		t.Fatal("missing file loaded")
	}
}

func equalData(a, b *tensor.Dense) bool {
	x, y := a.Data().([]float32), b.Data().([]float32)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// TestShippedCheckpointLoads: the shipped checkpoint carries its data checksum, loads with a trained
// DiT, and records the resolutions it was trained at (so sampling beyond them is warned about).
func TestShippedCheckpointLoads(t *testing.T) {
	path := filepath.Join("..", "..", "assets", "lumina-tiny.safetensors")
	head, err := ReadMeta(path)
	if err != nil || len(head[MetaDataSHA256]) != 64 {
		t.Fatalf("header %v (%v): want a data checksum", len(head), err)
	}
	b, err := LoadBundle(path, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CheckTrainedDiT(); err != nil {
		t.Fatal(err)
	}
	if got := Resolutions(b.Meta); len(got) != 2 || got[0] != 16 || got[1] != 32 {
		t.Errorf("trained resolutions %v, want [16 32]", got)
	}
}

func TestCheckTrainedDiT(t *testing.T) {
	b := testBundle(t) // freshly initialised: the final layer is zero
	if err := b.CheckTrainedDiT(); err == nil || !strings.Contains(err.Error(), "final layer (final.weight) is all zeros") ||
		!strings.Contains(err.Error(), "final.safetensors") {
		t.Errorf("initialised DiT: %v", err)
	}
	b.DiT.T["final.weight"].Data().([]float32)[3] = 0.01
	if err := b.CheckTrainedDiT(); err != nil {
		t.Errorf("trained DiT refused: %v", err)
	}
	b.Meta[MetaTrainKind], b.Meta[MetaTrainStage] = TrainKindTextEncoder, "0"
	if err := b.CheckTrainedDiT(); err == nil || !strings.Contains(err.Error(), "stage-0 checkpoint of the text encoder") ||
		!strings.Contains(err.Error(), "stage 1 or later") {
		t.Errorf("stage-0 checkpoint: %v", err)
	}
}

func TestResolutions(t *testing.T) {
	if got := Resolutions(map[string]string{}); got != nil {
		t.Errorf("absent: %v", got)
	}
	if got := Resolutions(map[string]string{MetaResolutions: "16, 32"}); got != nil {
		t.Errorf("unreadable: %v", got)
	}
	rs := WithResolutions(nil, 32, 16, 32)
	meta := map[string]string{MetaResolutions: ResolutionsMeta(rs)}
	if got := Resolutions(meta); meta[MetaResolutions] != "[16,32]" || len(got) != 2 || got[0] != 16 || got[1] != 32 {
		t.Errorf("%q read back as %v", meta[MetaResolutions], got)
	}
}
