package ckpt

import (
	"path/filepath"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
)

// TestMergedChunkIsGorgonias: mergedChunk names exactly the chunks Gorgonia merges when the four adaLN
// chunks are cut as column ranges of one node, at every width a registered config uses and others.
func TestMergedChunkIsGorgonias(t *testing.T) {
	for _, dim := range []int{24, 64, 96, 128, 192, 256, 320, 512, 2304} {
		g := G.NewGraph()
		ada := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 4*dim), G.WithName("ada"), G.WithInit(G.Zeroes()))
		var parts []*G.Node
		for i := 0; i < 4; i++ {
			parts = append(parts, G.Must(G.Slice(ada, nil, G.S(i*dim, (i+1)*dim))))
		}
		for i, p := range parts {
			first := slices.Index(parts, p)
			if got := mergedChunk(i, dim); got != first {
				t.Errorf("width %d: chunk %d: mergedChunk says %d, Gorgonia's graph has %d", dim, i, got, first)
			}
		}
	}
}

// TestShippedCheckpointModulationUnmerged: the shipped checkpoint was trained with merged chunks (width
// 128: scale_mlp and gate_mlp read the rows of scale_msa and gate_msa); loaded, each block's FFN chunks
// are copies of its attention chunks, so the model computes what was trained.
func TestShippedCheckpointModulationUnmerged(t *testing.T) {
	path := filepath.Join("..", "..", "assets", "lumina-tiny.safetensors")
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBundle(path, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	cfg := b.DiT.Cfg
	if cfg.Dim != 128 {
		t.Fatalf("shipped width %d, the test expects 128", cfg.Dim)
	}
	for _, name := range modulatedBlocks(cfg) {
		for _, suffix := range []string{".weight", ".bias"} {
			stored := f.Tensors[name+suffix].Data().([]float32)
			loaded := b.DiT.T[name+suffix].Data().([]float32)
			n := len(stored) / 4 // one chunk
			if allZeroIn(stored[:2*n]) || !allZeroIn(stored[2*n:]) {
				t.Fatalf("%s%s as stored: want trained attention chunks and zero FFN chunks", name, suffix)
			}
			if !slices.Equal(loaded[:2*n], stored[:2*n]) || !slices.Equal(loaded[2*n:], stored[:2*n]) {
				t.Fatalf("%s%s as loaded: want the attention chunks, then a copy of them", name, suffix)
			}
		}
	}
}

// TestUnmergeLeavesDistinctChunks: a checkpoint whose merged chunks' rows are not all zero was trained
// with distinct chunks and loads unchanged; one with nothing merged at its width too.
func TestUnmergeLeavesDistinctChunks(t *testing.T) {
	for _, name := range []string{"tiny", "small"} {
		cfg, _ := arch.LookupConfig(name)
		dit, err := model.NewWeights(cfg, tensor.Float32, 1)
		if err != nil {
			t.Fatal(err)
		}
		w := dit.T["layers.0.ada.1.weight"].Data().([]float32)
		for i := range w {
			w[i] = float32(i%7) - 3
		}
		before := slices.Clone(w)
		did, err := unmergeModulation(cfg, dit.T)
		if err != nil || did || !slices.Equal(w, before) {
			t.Fatalf("%s: trained chunks changed (did %v, err %v)", name, did, err)
		}
		// Only the chunks that others were merged into trained, as with merged chunks: unmerged.
		chunk := cfg.Dim * cfg.AdaDim()
		for i := 0; i < 4; i++ {
			if mergedChunk(i, cfg.Dim) != i {
				clear(w[i*chunk : (i+1)*chunk])
			}
		}
		did, err = unmergeModulation(cfg, dit.T)
		if err != nil || !did {
			t.Fatalf("%s: merged chunks not copied (did %v, err %v)", name, did, err)
		}
		for i := 0; i < 4; i++ {
			j := mergedChunk(i, cfg.Dim)
			if !slices.Equal(w[i*chunk:(i+1)*chunk], before[j*chunk:(j+1)*chunk]) {
				t.Fatalf("%s: chunk %d is not a copy of chunk %d", name, i, j)
			}
		}
	}
	cfg := arch.Config{Name: "w64", Dim: 64, Layers: 1, Heads: 4, KVHeads: 2, AxesDims: [3]int{4, 6, 6}, MultipleOf: 32,
		Refiners: 1, Patch: 4, Channels: 3, CapDim: 64, FreqDim: 256, AdaLNMax: 1024, NormEps: 1e-5}
	if did, err := unmergeModulation(cfg, nil); did || err != nil {
		t.Fatalf("width 64 has no merged chunks, got did %v, err %v", did, err)
	}
}
