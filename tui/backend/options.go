package backend

import "time"

// Solver names, as infer and the --solver flag spell them.
const (
	SolverEuler    = "euler"
	SolverMidpoint = "midpoint"
	SolverFDPM     = "fdpm"
)

// Solvers lists them in infer.Solvers' order.
var Solvers = []string{SolverEuler, SolverMidpoint, SolverFDPM}

// SampleOptions mirrors infer.SampleOptions field for field (same names, types and order), so the
// lead converts with infer.SampleOptions(o). See infer for each field's meaning: Renorm 0, Trunc 1
// and TeaCache 0 are "off".
type SampleOptions struct {
	Steps     int
	CFG       float64
	Solver    string
	Shift     float64
	Renorm    float64
	Trunc     float64
	TeaCache  float64
	TeaCoeffs []float64
	Seed      uint64
}

// DefaultSampleOptions are infer.DefaultSampleOptions' values (Euler 30 steps, shift 3, CFG 4 with
// renorm 1, trunc and TeaCache off).
func DefaultSampleOptions() SampleOptions {
	return SampleOptions{Steps: 30, CFG: 4, Solver: SolverEuler, Shift: 3, Renorm: 1, Trunc: 1}
}

// NFE is infer.SampleOptions.NFE: model evaluations the solver makes.
func (o SampleOptions) NFE() int {
	switch o.Solver {
	case SolverMidpoint:
		return 2 * (o.Steps - 1)
	case SolverFDPM:
		return o.Steps
	}
	return o.Steps - 1
}

// StepInfo mirrors infer.StepInfo field for field; convert with backend.StepInfo(si).
type StepInfo struct {
	Step, Of int
	T        float32
	Batch    []int
	Skipped  int
	Wall     time.Duration
}
