package ckpt

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/arch"
)

// Checkpoints trained while the graph merged adaLN chunks.
//
// Gorgonia merges graph nodes whose ops hash alike, and its slice op hashes only the low byte of each
// bound. While the modulated blocks cut their adaLN output into column ranges, a chunk whose bounds
// agreed in their low byte with an earlier chunk's became that chunk: at width 128 scale_mlp and
// gate_mlp were scale_msa and gate_msa, at 256 and 512 all four were scale_msa. The rows of the merged
// chunks got no gradient and stayed at their zero initialisation. The model now reads every chunk
// (model.JointBlock.Modulation); a checkpoint trained before computes the function it was trained as
// once each merged chunk's rows are a copy of the rows that stood in for them, which LoadBundle makes.

// mergedChunk is the chunk that chunk i of k, each dim wide, was merged into (i itself when none):
// the first one whose bounds agree with i's in their low byte.
func mergedChunk(i, dim int) int {
	for j := 0; j < i; j++ {
		if byte(j*dim) == byte(i*dim) && byte((j+1)*dim) == byte((i+1)*dim) {
			return j
		}
	}
	return i
}

// modulatedBlocks lists the adaLN linears of the joint model (arch.Config.ParamShapes).
func modulatedBlocks(c arch.Config) []string {
	var out []string
	for i := 0; i < c.Refiners; i++ {
		out = append(out, fmt.Sprintf("noise_ref.%d.ada.1", i))
	}
	for i := 0; i < c.Layers; i++ {
		out = append(out, fmt.Sprintf("layers.%d.ada.1", i))
	}
	return out
}

// unmergeModulation gives a joint-model checkpoint trained with merged adaLN chunks its trained function
// back: when every merged chunk's rows of every adaLN weight and bias are exactly zero, it copies into
// them the rows of the chunk they were merged into, and reports whether it did. A checkpoint whose merged
// rows are not all zero was trained with distinct chunks (a training step moves a gate's rows off zero),
// and one with nothing merged at its width needs nothing; both are left as they are.
func unmergeModulation(c arch.Config, ts map[string]*tensor.Dense) (bool, error) {
	if c.Cross() {
		return false, nil // the cross-injection model was never built with merged chunks
	}
	const chunks = 4
	merged := false
	for i := 0; i < chunks; i++ {
		merged = merged || mergedChunk(i, c.Dim) != i
	}
	if !merged {
		return false, nil
	}
	var rows [][]tensorRows
	for _, name := range modulatedBlocks(c) {
		w, b := ts[name+".weight"], ts[name+".bias"]
		if w == nil || b == nil {
			return false, fmt.Errorf("missing tensor %s.weight or %s.bias", name, name)
		}
		rows = append(rows, []tensorRows{{w, c.AdaDim()}, {b, 1}})
	}
	for _, blk := range rows {
		for _, r := range blk {
			for i := 0; i < chunks; i++ {
				if mergedChunk(i, c.Dim) != i && !r.zero(i*c.Dim, (i+1)*c.Dim) {
					return false, nil
				}
			}
		}
	}
	for _, blk := range rows {
		for _, r := range blk {
			for i := 0; i < chunks; i++ {
				if j := mergedChunk(i, c.Dim); j != i {
					r.copyRows(j*c.Dim, i*c.Dim, c.Dim)
				}
			}
		}
	}
	return true, nil
}

// tensorRows views a tensor as rows of width elements.
type tensorRows struct {
	t     *tensor.Dense
	width int
}

func (r tensorRows) zero(from, to int) bool {
	switch d := r.t.Data().(type) {
	case []float32:
		return allZeroIn(d[from*r.width : to*r.width])
	case []float64:
		return allZeroIn(d[from*r.width : to*r.width])
	}
	return false
}

func (r tensorRows) copyRows(src, dst, n int) {
	switch d := r.t.Data().(type) {
	case []float32:
		copy(d[dst*r.width:(dst+n)*r.width], d[src*r.width:(src+n)*r.width])
	case []float64:
		copy(d[dst*r.width:(dst+n)*r.width], d[src*r.width:(src+n)*r.width])
	}
}

func allZeroIn[T float32 | float64](d []T) bool {
	for _, v := range d {
		if v != 0 {
			return false
		}
	}
	return true
}
