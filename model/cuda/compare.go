package cuda

import (
	"math"

	G "gorgonia.org/gorgonia"

	"github.com/lumina-workbench/lumina/model/exec"
)

// CompareWithHost runs the program computing outs (a float32 graph, its inputs set) on be and on the
// host executor, which matches Gorgonia's machine bit for bit, and returns the worst relative error
// max |be − host| / max |host| over the outputs and the output it is at (+Inf where be gave NaN).
// Tests of the lowering run it on the emulator, tools/gpucheck on a GPU.
func CompareWithHost(be Backend, outs G.Nodes) (worst float64, at *G.Node, err error) {
	p, err := exec.Compile(outs, nil)
	if err != nil {
		return 0, nil, err
	}
	host, err := exec.NewHost[float32](p)
	if err != nil {
		return 0, nil, err
	}
	if err := host.Run(); err != nil {
		return 0, nil, err
	}
	l, err := Lower(p, nil)
	if err != nil {
		return 0, nil, err
	}
	if err := be.Run(l, l.Steps); err != nil {
		return 0, nil, err
	}
	for _, n := range outs {
		want, err := host.Output(n)
		if err != nil {
			return 0, nil, err
		}
		v, _ := p.Index(n)
		got, err := be.Read(l.Place(v), int64(len(want)))
		if err != nil {
			return 0, nil, err
		}
		var num, den float64
		for i := range want {
			num = max(num, math.Abs(float64(got[i])-float64(want[i])))
			den = max(den, math.Abs(float64(want[i])))
		}
		rel := num / max(den, 1e-30)
		if math.IsNaN(num) {
			rel = math.Inf(1)
		}
		if at == nil || rel > worst {
			worst, at = rel, n
		}
	}
	return worst, at, nil
}
