package cuda

import (
	"fmt"

	"github.com/lumina-workbench/lumina/model/arch"
)

// The device-memory planner: the device buffers of a training step or a sampling forward counted from the
// config and the shapes alone, before any graph is built, all float32: the flash attention keeps no L×L
// probabilities, only a log-sum-exp per query row, so memory grows linearly with the sequence. It is an
// analytic account, within 0.76–1.05 of the exact count of a lowered program (TrainingBytes, which the
// training commands use); sampling checks the device against SamplePlan.

// BufferKind groups buffers by how long they live.
type BufferKind int

const (
	// Weights are the parameters; Grads their gradients; Optimizer AdamW's moments and the EMA.
	Weights BufferKind = iota
	Grads
	Optimizer
	// Activations are kept from the forward for the backward (training) or live during one block (sampling).
	Activations
	// Workspace is the largest scratch one op needs at a time (gradient streams, per-row partial sums).
	Workspace
)

// Buffer is one device allocation (or a family of equal ones: Count of Bytes each).
type Buffer struct {
	Name  string
	Kind  BufferKind
	Bytes int64
	Count int
}

// Plan is the set of buffers of one job.
type Plan struct {
	Job     string
	Buffers []Buffer
}

// Total is the bytes of every buffer.
func (p Plan) Total() int64 {
	var t int64
	for _, b := range p.Buffers {
		t += b.Bytes * int64(b.Count)
	}
	return t
}

// ByKind is the total per kind.
func (p Plan) ByKind() map[BufferKind]int64 {
	out := map[BufferKind]int64{}
	for _, b := range p.Buffers {
		out[b.Kind] += b.Bytes * int64(b.Count)
	}
	return out
}

const f32 = 4

func (p *Plan) add(name string, kind BufferKind, elems int64, count int) {
	if elems > 0 && count > 0 {
		p.Buffers = append(p.Buffers, Buffer{Name: name, Kind: kind, Bytes: elems * f32, Count: count})
	}
}

// blockSaved is what one joint block keeps for its backward on n = batch·tokens rows: the residual-width
// tensors (input, the four sandwich norms' outputs, the attention projection, the mid-block residual,
// the FFN output, and with modulation the two modulated inputs), qkv and the attention's own rotated
// q, k, v (the same width), its output, the FFN's three hidden-width tensors (w1, w3, their SwiGLU), and
// per query/key row the norms' rstd and the log-sum-exp.
func blockSaved(c arch.Config, batch, tokens int, modulated bool) (rows, perRow int64) {
	n := int64(batch) * int64(tokens)
	hd := int64(c.HeadDim())
	dWide := int64(8)
	if modulated {
		dWide = 10
	}
	qkvW := int64(c.Heads+2*c.KVHeads) * hd
	perRow = dWide*int64(c.Dim) + 2*qkvW + int64(c.Heads)*hd + 3*int64(c.FFNHidden()) + int64(2*c.Heads+c.KVHeads)
	return n, perRow
}

// blockWorkspace is the scratch of one block's backward on n rows: the residual-stream gradient
// (double-buffered), and the larger of the attention's (dq, dk, dv, dqkv, and the per-row dqw, dkw parts)
// and the FFN's (three hidden-width gradients).
func blockWorkspace(c arch.Config, rows int64) int64 {
	hd := int64(c.HeadDim())
	qkvW := int64(c.Heads+2*c.KVHeads) * hd
	attn := 2*qkvW + int64(c.Heads+c.KVHeads)*hd
	ffn := 3 * int64(c.FFNHidden())
	return rows * (2*int64(c.Dim) + max(attn, ffn))
}

// forwardTokens is the blocks' sequence lengths, as arch's estimate counts them: the context refiners on
// the caption, the noise refiners on the image tokens, the main layers on both.
func forwardTokens(c arch.Config, h, w, capLen int) (capT, imgT, joint int) {
	img := (h / c.Patch) * (w / c.Patch)
	return capLen, img, capLen + img
}

func checkShape(c arch.Config, batch, h, w, capLen int) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if batch < 1 || capLen < 1 || h < c.Patch || w < c.Patch || h%c.Patch != 0 || w%c.Patch != 0 {
		return fmt.Errorf("memory plan: batch %d, %d×%d px, %d caption tokens: want positive sizes, sides multiples of the patch %d",
			batch, h, w, capLen, c.Patch)
	}
	return nil
}

// addForward adds the saved activations of one full forward (all blocks, the embedders, the final
// layer, the images and targets of the loss) and returns the rows of its widest block.
func addForward(p *Plan, c arch.Config, batch, h, w, capLen int, tag string) int64 {
	capT, imgT, joint := forwardTokens(c, h, w, capLen)
	pix := int64(batch) * int64(c.Channels) * int64(h) * int64(w)
	// x_t, target (x1 − x0), the velocity, and the patch tokens and their embedding.
	p.add(tag+"images (x_t, target, velocity)", Activations, pix, 3)
	p.add(tag+"patch tokens", Activations, pix, 1)
	p.add(tag+"caption features", Activations, int64(batch)*int64(capLen)*int64(c.CapDim), 1)
	if c.Refiners > 0 {
		r, w := blockSaved(c, batch, capT, false)
		p.add(tag+"context refiner", Activations, r*w, c.Refiners)
		r, w = blockSaved(c, batch, imgT, true)
		p.add(tag+"noise refiner", Activations, r*w, c.Refiners)
	}
	r, wd := blockSaved(c, batch, joint, true)
	p.add(tag+"main block", Activations, r*wd, c.Layers)
	// RoPE tables (cos, sin) and the key mask of the joint sequence.
	p.add(tag+"rope tables", Activations, int64(batch)*int64(joint)*int64(c.HeadDim()/2), 2)
	p.add(tag+"key mask", Activations, int64(batch)*int64(joint), 1)
	// Final layer: its LayerNorm and modulated input, and its output tokens.
	p.add(tag+"final layer", Activations, int64(batch)*int64(imgT)*int64(c.Dim), 2)
	p.add(tag+"final tokens", Activations, int64(batch)*int64(imgT)*int64(c.Patch*c.Patch*c.Channels), 1)
	return int64(batch) * int64(joint)
}

// TrainStepPlan is a training step on batch images of h×w px with captions of capLen tokens, with the
// auxiliary forward on the AvgPool4 images when aux (both graphs' activations are live at the backward).
func TrainStepPlan(c arch.Config, batch, h, w, capLen int, aux bool) (Plan, error) {
	if err := checkShape(c, batch, h, w, capLen); err != nil {
		return Plan{}, err
	}
	p := Plan{Job: fmt.Sprintf("training step %s, batch %d, %d×%d px, %d caption tokens", c.Name, batch, h, w, capLen)}
	n := c.ParamCount()
	p.add("weights", Weights, n, 1)
	p.add("gradients", Grads, n, 1)
	p.add("AdamW moments", Optimizer, n, 2)
	p.add("EMA", Optimizer, n, 1)
	rows := addForward(&p, c, batch, h, w, capLen, "")
	if aux {
		if h%(4*c.Patch) != 0 || w%(4*c.Patch) != 0 {
			return Plan{}, fmt.Errorf("memory plan: the auxiliary loss pools %d×%d px by 4, which leaves no whole patch of %d", h, w, c.Patch)
		}
		p.add("aux: pooled images", Activations, int64(batch)*int64(c.Channels)*int64(h/4)*int64(w/4), 1)
		rows = max(rows, addForward(&p, c, batch, h/4, w/4, capLen, "aux: "))
	}
	p.add("backward workspace", Workspace, blockWorkspace(c, rows), 1)
	// sq_partial's doubles for the loss and the clip: 2·ReduceBlocks float32 slots each.
	p.add("reduction partials", Workspace, 2*2*ReduceBlocks, 1)
	return p, nil
}

// SamplePlan is one sampling forward of batch samples (2 per image under CFG): the weights, and the
// activations of one block at a time (nothing is kept for a backward), double-buffered across blocks.
func SamplePlan(c arch.Config, batch, h, w, capLen int) (Plan, error) {
	if err := checkShape(c, batch, h, w, capLen); err != nil {
		return Plan{}, err
	}
	p := Plan{Job: fmt.Sprintf("sampling forward %s, batch %d, %d×%d px, %d caption tokens", c.Name, batch, h, w, capLen)}
	p.add("weights", Weights, c.ParamCount(), 1)
	_, _, joint := forwardTokens(c, h, w, capLen)
	pix := int64(batch) * int64(c.Channels) * int64(h) * int64(w)
	p.add("images (x, velocity)", Activations, pix, 2)
	p.add("caption features", Activations, int64(batch)*int64(capLen)*int64(c.CapDim), 1)
	r, wd := blockSaved(c, batch, joint, true)
	p.add("block activations", Activations, r*wd, 2)
	p.add("rope tables", Activations, int64(batch)*int64(joint)*int64(c.HeadDim()/2), 2)
	p.add("key mask", Activations, int64(batch)*int64(joint), 1)
	return p, nil
}

// CheckFits refuses a plan larger than the device's free memory, unless force; the message gives both
// numbers and the way out, as the CPU's refusal does.
func CheckFits(p Plan, free int64, force bool) error {
	need := p.Total()
	if need <= free || force {
		return nil
	}
	return fmt.Errorf("%s needs %.2f GiB of device memory and the GPU has %.2f GiB free: lower the batch or the resolution, "+
		"or pass --force to try anyway", p.Job, float64(need)/(1<<30), float64(free)/(1<<30))
}
