// Package infer holds the samplers of Lumina-Image 2.0 (Euler, midpoint, Flow-DPM-Solver) and the
// inference accelerations the paper combines with them (CFG, CFG-Renorm, CFG-Trunc, TeaCache). It is
// written against the Denoiser interface, not against the model, so that every piece can be checked on
// an analytic flow whose exact solution is known.
package infer

// Cond is what conditions one sample of a batch. The model encodes it; the sampler only decides which
// text goes with which sample.
type Cond struct {
	// Text is the full caption, system prompt included, for the conditional branch, and "" for the
	// unconditional one (training drops the whole string, system prompt too, so "" is what the model
	// learned as "no caption").
	Text string
}

// State is a denoiser's opaque per-forward state, alive from Begin to Finish of one forward.
type State any

// Denoiser is a conditional flow model, split where TeaCache cuts it: everything before the main
// layers (embedders, refiners), the main layers, and the final layer.
//
// One forward is Begin, then for every sample of the batch either Main (computed) or ApplyResidual
// (cached), then Finish. The sampler may skip the main layers for some samples of a batch and not
// for others (cond and uncond keep separate caches although they run as one batch), so Main takes
// the list of samples to run.
//
// Per-sample layout: the slices returned by Modulated and Residual, and the one given to
// ApplyResidual, are in a layout that depends only on the sample itself (its caption and image
// size), never on the rest of the batch: a residual cached while the sample ran in a batch of 2 is
// reused when CFG-Trunc runs it in a batch of 1. For a Next-DiT that means valid tokens only, no
// batch padding. The sampler copies what it keeps, so the denoiser may reuse its buffers.
type Denoiser interface {
	// Begin runs everything before the main layers for a batch. x is [B, C, H, W] flat float32
	// (shape = B, C, H, W), t holds one shifted time per sample (t = 0 noise, t = 1 data) and cond
	// one conditioning per sample.
	Begin(x []float32, shape [4]int, t []float32, cond []Cond) (State, error)
	// Modulated returns sample i's modulated input of the first main block,
	// RMSNorm_a1(x)·(1+scale_msa): TeaCache's indicator. Only called when TeaCache is on.
	Modulated(st State, i int) ([]float32, error)
	// Main runs the main layers, in place in the state, for the listed samples (indices into the
	// batch, ascending, non-empty).
	Main(st State, samples []int) error
	// Residual returns sample i's main-stack output minus its input, from the last Main that ran
	// sample i in this state.
	Residual(st State, i int) ([]float32, error)
	// ApplyResidual stands in for Main on sample i: its main-stack output becomes input + r.
	ApplyResidual(st State, i int, r []float32) error
	// Finish runs the final layer and returns the velocity [B, C, H, W] flat.
	Finish(st State) ([]float32, error)
}
