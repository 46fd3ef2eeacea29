package infer

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/lumina-workbench/lumina/internal/device"
)

// Solver names, as the --solver flag spells them.
const (
	SolverEuler    = "euler"
	SolverMidpoint = "midpoint"
	SolverFDPM     = "fdpm"
)

// Solvers lists the accepted --solver values.
var Solvers = []string{SolverEuler, SolverMidpoint, SolverFDPM}

// Lumina2TeaCoeffs is the public TeaCache rescale polynomial for the released 2B model (highest power
// first). It is only right for that model; a model of ours needs its own (FitTeaCache).
var Lumina2TeaCoeffs = []float64{225.70420198, -608.84537165, 304.18699423, 124.21267720, -1.40890669}

// SampleOptions are the sampler's settings. Each acceleration switches on and off on its own:
// Renorm 0, Trunc 1 and TeaCache 0 are "off".
type SampleOptions struct {
	// Steps is N, the number of grid points for Euler and midpoint (N−1 steps, N−1 and 2(N−1) NFE)
	// and the number of steps (= NFE) for Flow-DPM-Solver.
	Steps int
	// CFG is the guidance scale w of v = v_u + w·(v_c − v_u). CFG == 1 is no guidance: only the
	// conditional branch runs, and Renorm does not apply.
	CFG float64
	// Solver is one of Solvers.
	Solver string
	// Shift is the time shift s, t' = t / (t + s − s·t).
	Shift float64
	// Renorm is CFG-Renorm's r (clamp ‖v‖ to r·‖v_c‖ per sample); 0 is off.
	Renorm float64
	// Trunc is CFG-Trunc's α in shifted time: from t ≥ α on only the conditional branch runs; 1 is off.
	Trunc float64
	// TeaCache is the accumulated-indicator threshold below which the main layers are skipped; 0 is off.
	TeaCache float64
	// TeaCoeffs is the rescale polynomial of TeaCache, highest power first (needed when TeaCache > 0).
	TeaCoeffs []float64
	// Seed picks the initial noise: prompt p of a request draws from PCG(Seed, p).
	Seed uint64
	// Device is where the model runs; the zero value is the CPU.
	Device device.Device
}

// DefaultSampleOptions are the workbench's defaults at its small scale: Euler with 30 grid points,
// shift 3 and CFG 4 with renorm 1 (the reference uses shift 6 at 1024², more than 16–64 px images want);
// trunc and TeaCache off, as in the reference's sampling script.
func DefaultSampleOptions() SampleOptions {
	return SampleOptions{
		Steps:  30,
		CFG:    4,
		Solver: SolverEuler,
		Shift:  3,
		Renorm: 1,
		Trunc:  1,
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Upper bounds of the options: well past anything useful (the paper samples with up to 250 steps,
// guidance scales of 4–6 and shift 6), low enough that a typo cannot run for hours or overflow float32.
const (
	MaxSteps    = 1000
	MaxCFG      = 50
	MaxShift    = 20
	MaxRenorm   = 10
	MaxTeaCache = 5
)

// Image sides a request may ask for, in pixels (and a multiple of the model's patch size).
const (
	MinSide = 16
	MaxSide = 256
)

// Validate checks every option and reports every bad one, each message naming the CLI flag and its
// allowed range, so the CLI can refuse bad flags before it loads a model.
func (o SampleOptions) Validate() error {
	var errs []error
	if err := o.Device.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--device: %w", err))
	}
	if o.Steps < 2 || o.Steps > MaxSteps {
		errs = append(errs, fmt.Errorf("--steps must be an integer in 2..%d, got %d", MaxSteps, o.Steps))
	}
	if !finite(o.CFG) || o.CFG < 0 || o.CFG > MaxCFG {
		errs = append(errs, fmt.Errorf("--cfg must be a number in [0, %d] (1 = no guidance), got %v", MaxCFG, o.CFG))
	}
	switch o.Solver {
	case SolverEuler, SolverMidpoint, SolverFDPM:
	default:
		errs = append(errs, fmt.Errorf("--solver must be one of %s, got %q", strings.Join(Solvers, ", "), o.Solver))
	}
	if !finite(o.Shift) || o.Shift <= 0 || o.Shift > MaxShift {
		errs = append(errs, fmt.Errorf("--shift must be a number in (0, %d], got %v", MaxShift, o.Shift))
	}
	if !finite(o.Renorm) || o.Renorm < 0 || o.Renorm > MaxRenorm {
		errs = append(errs, fmt.Errorf("--renorm must be a number in [0, %d] (0 = off), got %v", MaxRenorm, o.Renorm))
	}
	if !finite(o.Trunc) || o.Trunc < 0 || o.Trunc > 1 {
		errs = append(errs, fmt.Errorf("--trunc must be a number in [0, 1] (1 = off), got %v", o.Trunc))
	}
	if !finite(o.TeaCache) || o.TeaCache < 0 || o.TeaCache > MaxTeaCache {
		errs = append(errs, fmt.Errorf("--teacache must be a number in [0, %d] (0 = off), got %v", MaxTeaCache, o.TeaCache))
	} else if o.TeaCache > 0 {
		if len(o.TeaCoeffs) == 0 {
			errs = append(errs, fmt.Errorf("--teacache %v needs the model's TeaCache coefficients, and none were given", o.TeaCache))
		}
		for i, c := range o.TeaCoeffs {
			if !finite(c) {
				errs = append(errs, fmt.Errorf("--teacache: coefficient %d of the rescale polynomial is %v, must be finite", i, c))
			}
		}
	}
	return errors.Join(errs...)
}

// guided reports whether CFG runs at shifted time t.
func (o SampleOptions) guided(t float32) bool {
	if o.CFG == 1 {
		return false
	}
	// Trunc ≥ 1 is off even at t = 1, which no solver evaluates but a caller might.
	return o.Trunc >= 1 || float64(t) < o.Trunc
}

// NFE is the number of model evaluations the options' solver makes.
func (o SampleOptions) NFE() int {
	switch o.Solver {
	case SolverMidpoint:
		return 2 * (o.Steps - 1)
	case SolverFDPM:
		return o.Steps
	default:
		return o.Steps - 1
	}
}
