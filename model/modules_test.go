package model

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestModulationChunksDistinct: every adaLN chunk of a block is its own node holding its own rows of the
// adaLN output, at the widths of the registered configs (128 and 256 make column ranges whose bounds
// agree in their low byte) and at batch 1 and 2. The bias of chunk i is set to i and the weight to zero,
// so chunk i must read i everywhere.
func TestModulationChunksDistinct(t *testing.T) {
	for _, dim := range []int{64, 128, 256} {
		for _, chunks := range []int{4, 6} {
			for _, batch := range []int{1, 2} {
				g := G.NewGraph()
				const ada = 8
				w := G.NewMatrix(g, tensor.Float64, G.WithShape(chunks*dim, ada), G.WithName("w"), G.WithInit(G.Zeroes()))
				bias := make([]float64, chunks*dim)
				for i := range bias {
					bias[i] = float64(i / dim)
				}
				bn := G.NewVector(g, tensor.Float64, G.WithShape(chunks*dim), G.WithName("b"),
					G.WithValue(tensor.New(tensor.WithShape(chunks*dim), tensor.WithBacking(bias))))
				c := G.NewMatrix(g, tensor.Float64, G.WithShape(batch, ada), G.WithName("c"), G.WithInit(G.Ones()))
				blk := &JointBlock{Ada: &Linear{W: w, B: bn}, Dim: dim}
				if chunks == 6 {
					blk.Cross = &CrossAttention{}
				}
				m := blk.Modulation(c)
				parts := []*G.Node{m.ScaleMSA, m.GateMSA, m.ScaleMLP, m.GateMLP, m.ScaleXA, m.GateXA}[:chunks]
				vals := make([]G.Value, chunks)
				for i, p := range parts {
					if !p.Shape().Eq(tensor.Shape{batch, dim}) {
						t.Fatalf("dim %d, batch %d: chunk %d has shape %v, want [%d %d]", dim, batch, i, p.Shape(), batch, dim)
					}
					G.Read(p, &vals[i])
				}
				vm := G.NewTapeMachine(g)
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					for j, x := range v.Data().([]float64) {
						if x != float64(i) {
							t.Fatalf("dim %d, %d chunks, batch %d: chunk %d element %d reads %g, want %d (another chunk's rows)",
								dim, chunks, batch, i, j, x, i)
						}
					}
				}
				vm.Close()
			}
		}
	}
}
