package ckpt

import (
	"bytes"
	"encoding/binary"
	"maps"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/internal/fuzzseed"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/textenc"
)

// microConfig is the smallest Next-DiT a bundle can hold, so that a seed bundle is a few kilobytes
// and the fuzzer spends its time on the header.
var microConfig = arch.Config{Name: "micro", Dim: 8, Layers: 1, Heads: 1, KVHeads: 1, AxesDims: [3]int{2, 2, 4},
	MultipleOf: 8, Refiners: 1, Patch: 1, Channels: 1, CapDim: 4, FreqDim: 4, AdaLNMax: 8, NormEps: 1e-5}

// microBundle is a bundle of microConfig with the shipped checkpoint's tokenizer and metadata.
func microBundle(tb testing.TB) *Bundle {
	tb.Helper()
	_, meta := fuzzseed.CheckpointHeader(tb, fuzzseed.ShippedCheckpoint)
	tok, err := textenc.FromJSON([]byte(meta[MetaTokenizer]))
	if err != nil {
		tb.Fatal(err)
	}
	tc := arch.LMConfig{Vocab: tok.Size(), Dim: 4, Layers: 2, Heads: 1, KVHeads: 1, MultipleOf: 4, MaxLen: 8, NormEps: 1e-6, FeatureLayer: 1}
	b := newBundle(tb, microConfig, tc, tok, meta)
	b.Meta = plainMeta(b) // BundleMeta writes those entries from the bundle itself
	return b
}

// bundleBytes is b as a file.
func bundleBytes(tb testing.TB, b *Bundle) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteBundle(&buf, b); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// withEMA is a training checkpoint's layout of b: its DiT weights as the EMA's under TrainPrefix,
// other values under the plain names, and the metadata that says so.
func withEMA(tb testing.TB, b *Bundle) []byte {
	tb.Helper()
	ts, meta, err := BundleFile(b)
	if err != nil {
		tb.Fatal(err)
	}
	for name, v := range b.DiT.T {
		ts[TrainPrefix+"ema."+name] = v
		ts[name] = tensor.New(tensor.WithShape(v.Shape().Clone()...), tensor.Of(tensor.Float32))
	}
	meta[MetaEMA] = "1"
	meta[TrainPrefix+"ema.decay"] = "0.99"
	return encoded(tb, ts, meta)
}

// bundleAllocLimit bounds what LoadBundle may allocate for a file of n bytes: it reads the header
// twice and every tensor once, widened to float32. A header whose configs call for more tensors than
// the file can hold must be refused before they are listed.
func bundleAllocLimit(n int) uint64 { return 128*uint64(n) + 16<<20 }

// FuzzLoadBundle loads a file made of a fuzzed header and data section. Nothing panics or allocates
// beyond bundleAllocLimit; an error is one line naming the file; a bundle that loads holds exactly
// the tensors its configs call for and a tokenizer of the encoder's vocabulary, and saved again it
// loads back the same.
func FuzzLoadBundle(f *testing.F) {
	micro := microBundle(f)
	// The micro bundle's tensors under metadata whose config claims a billion layers: refused without
	// listing them.
	ts, meta, err := BundleFile(micro)
	if err != nil {
		f.Fatal(err)
	}
	huge := micro.DiT.Cfg
	huge.Layers = 1 << 30
	meta[MetaConfig] = ConfigMeta(huge)
	for _, b := range [][]byte{bundleBytes(f, micro), withEMA(f, micro), encoded(f, ts, meta)} {
		header, data := headerOf(f, b)
		f.Add(header, data)
	}
	header, _ := fuzzseed.CheckpointHeader(f, fuzzseed.ShippedCheckpoint)
	f.Add(header, []byte{})
	f.Fuzz(func(t *testing.T, header, data []byte) {
		raw := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		raw = append(append(raw, header...), data...)
		path := tempCheckpoint(t, raw)
		var b *Bundle
		var err error
		if n := fuzzseed.Allocated(func() { b, err = LoadBundle(path, tensor.Float32) }); n > bundleAllocLimit(len(raw)) {
			t.Fatalf("loading %d bytes allocated %d (error: %v)", len(raw), n, err)
		}
		if err != nil {
			checkLoadError(t, path, err)
			return
		}
		checkBundleShapes(t, b)
		again := tempCheckpoint(t, bundleBytes(t, b))
		b2, err := LoadBundle(again, tensor.Float32)
		if err != nil {
			t.Fatalf("a loaded bundle, saved again, does not load: %v", err)
		}
		if !sameBundle(b, b2) {
			t.Fatal("a loaded bundle, saved and loaded again, differs")
		}
	})
}

// checkBundleShapes: the DiT and the text encoder hold exactly their configs' parameters, and the
// tokenizer's vocabulary is the encoder's.
func checkBundleShapes(t *testing.T, b *Bundle) {
	t.Helper()
	if err := b.DiT.Check(); err != nil {
		t.Fatal(err)
	}
	want := b.TextCfg.ParamShapes()
	if len(want) != len(b.TextW) {
		t.Fatalf("text encoder: %d tensors, its config lists %d", len(b.TextW), len(want))
	}
	for _, p := range want {
		if w, ok := b.TextW[p.Name]; !ok || !slices.Equal(w.Shape(), p.Shape) {
			t.Fatalf("text encoder: tensor %s missing or not of shape %v", p.Name, p.Shape)
		}
	}
	if b.Tokenizer.Size() != b.TextCfg.Vocab {
		t.Fatalf("tokenizer of %d tokens, vocabulary %d", b.Tokenizer.Size(), b.TextCfg.Vocab)
	}
}

// sameBundle: the same configs, tokenizer, metadata and weights. The metadata entries that hold
// the configs and the tokenizer are compared as what they decode to: their JSON is written anew.
func sameBundle(a, b *Bundle) bool {
	ta, _ := a.Tokenizer.MarshalJSON()
	tb, _ := b.Tokenizer.MarshalJSON()
	if a.DiT.Cfg != b.DiT.Cfg || a.TextCfg != b.TextCfg || !bytes.Equal(ta, tb) || !maps.Equal(plainMeta(a), plainMeta(b)) {
		return false
	}
	for _, pair := range [][2]map[string]*tensor.Dense{{a.DiT.T, b.DiT.T}, {a.TextW, b.TextW}} {
		if len(pair[0]) != len(pair[1]) {
			return false
		}
		for n, v := range pair[0] {
			if w, ok := pair[1][n]; !ok || !sameTensor(v, w) {
				return false
			}
		}
	}
	return true
}

// plainMeta is a bundle's metadata without the entries that encode its configs and tokenizer, and
// without the training state's, which a bundle does not write (BundleMeta).
func plainMeta(b *Bundle) map[string]string {
	m := maps.Clone(b.Meta)
	for _, k := range []string{MetaConfig, MetaTextConfig, MetaTokenizer} {
		delete(m, k)
	}
	maps.DeleteFunc(m, func(k, _ string) bool { return strings.HasPrefix(k, TrainPrefix) })
	return m
}

// checkLoadError: a loader's error is one line that starts with the file's path.
func checkLoadError(t *testing.T, path string, err error) {
	t.Helper()
	if msg := err.Error(); !strings.HasPrefix(msg, "load checkpoint "+path+": ") || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line starting with the path", msg)
	}
}
