package cuda

import (
	"fmt"

	"github.com/lumina-workbench/lumina/model/arch"
)

// The sampling memory planner: the device buffers of a sampling forward counted from the config and the
// shapes alone, before the checkpoint is loaded, all float32: the flash attention keeps no L×L
// probabilities, only a log-sum-exp per query row, so memory grows linearly with the sequence. Training
// counts its memory exactly instead, from the lowered programs (TrainingBytes).

// Buffer is one device allocation (or a family of equal ones: Count of Bytes each).
type Buffer struct {
	Name  string
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

const f32 = 4

func (p *Plan) add(name string, elems int64, count int) {
	if elems > 0 && count > 0 {
		p.Buffers = append(p.Buffers, Buffer{Name: name, Bytes: elems * f32, Count: count})
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

// SamplePlan is one sampling forward of batch samples (2 per image under CFG): the weights, and the
// activations of one block at a time (nothing is kept for a backward), double-buffered across blocks.
func SamplePlan(c arch.Config, batch, h, w, capLen int) (Plan, error) {
	if err := checkShape(c, batch, h, w, capLen); err != nil {
		return Plan{}, err
	}
	p := Plan{Job: fmt.Sprintf("sampling forward %s, batch %d, %d×%d px, %d caption tokens", c.Name, batch, h, w, capLen)}
	p.add("weights", c.ParamCount(), 1)
	_, _, joint := forwardTokens(c, h, w, capLen)
	pix := int64(batch) * int64(c.Channels) * int64(h) * int64(w)
	p.add("images (x, velocity)", pix, 2)
	p.add("caption features", int64(batch)*int64(capLen)*int64(c.CapDim), 1)
	r, wd := blockSaved(c, batch, joint, true)
	p.add("block activations", r*wd, 2)
	p.add("rope tables", int64(batch)*int64(joint)*int64(c.HeadDim()/2), 2)
	p.add("key mask", int64(batch)*int64(joint), 1)
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
