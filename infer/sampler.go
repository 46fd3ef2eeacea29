package infer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Request is what to sample: one image per prompt, all of one latent shape.
type Request struct {
	// Prompts are full captions, system prompt included; each gets its own image.
	Prompts []string
	// Shape is one latent's [C, H, W].
	Shape [3]int
	// Noise optionally gives the starting latents, one [C, H, W] per prompt; nil draws them with
	// InitialNoise(opts.Seed, ...).
	Noise [][]float32
	// OnStep, if set, is called after every solver step (progress bars, live previews).
	OnStep func(StepInfo)
}

// StepInfo describes one solver step.
type StepInfo struct {
	Step, Of int           // this step's index and the number of steps
	T        float32       // shifted time at the start of the step (t = 0 noise)
	Batch    []int         // batch size of each model forward in this step (2 per prompt under CFG)
	Skipped  int           // per-sample main stacks TeaCache skipped in this step
	Wall     time.Duration // wall time of the step
}

// Result is a finished sampling run.
type Result struct {
	// Images are the final latents, one [C, H, W] per prompt.
	Images [][]float32
	Shape  [3]int
	// NFE counts model forwards of the whole batch (one guided velocity evaluation each).
	NFE int
	// Forwards counts samples forwarded: the sum of the batch sizes, which CFG-Trunc lowers.
	Forwards int
	// MainComputed and MainSkipped count per-sample main stacks run and replaced by TeaCache.
	MainComputed, MainSkipped int
	Steps                     []StepInfo
	Total                     time.Duration
}

// Sample integrates the flow from noise (t = 0) to data (t = 1) with the options' solver and
// accelerations. It validates the options and the request first and honours ctx between forwards.
func Sample(ctx context.Context, d Denoiser, req Request, opts SampleOptions) (*Result, error) {
	s, err := newSampler(d, req, opts)
	if err != nil {
		return nil, err
	}
	if opts.TeaCache > 0 {
		s.tea = newTeaCache(opts.TeaCache, opts.TeaCoeffs)
	}
	return s.run(ctx)
}

// CollectTeaCache runs full, uncached sampling with opts (its TeaCache setting is ignored) and
// records, for every branch and every pair of consecutive evaluations, the relative L1 change of
// the modulated input and of the main-stack residual: the calibration data FitTeaCache fits.
func CollectTeaCache(ctx context.Context, d Denoiser, req Request, opts SampleOptions) ([]CalibPair, *Result, error) {
	opts.TeaCache = 0
	s, err := newSampler(d, req, opts)
	if err != nil {
		return nil, nil, err
	}
	s.calib = &calibRecorder{prev: map[branchKey][2][]float32{}}
	res, err := s.run(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s.calib.pairs, res, nil
}

type sampler struct {
	d       Denoiser
	opts    SampleOptions
	prompts []string
	shape   [3]int
	n       int // values per latent, C·H·W
	xs      [][]float32
	onStep  func(StepInfo)

	tea   *teaCache
	calib *calibRecorder

	evals int  // forwards so far
	force bool // the current step must compute every main stack (first and last steps)
	res   *Result
	cur   StepInfo
	start time.Time
}

func newSampler(d Denoiser, req Request, opts SampleOptions) (*sampler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errors.New("sample: no denoiser")
	}
	if len(req.Prompts) == 0 {
		return nil, errors.New("sample: no prompts")
	}
	c, h, w := req.Shape[0], req.Shape[1], req.Shape[2]
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("sample: latent shape [C, H, W] must be positive, got %v", req.Shape)
	}
	n := c * h * w
	if n/c/h != w {
		return nil, fmt.Errorf("sample: latent shape %v overflows", req.Shape)
	}
	xs := req.Noise
	if xs == nil {
		xs = InitialNoise(opts.Seed, len(req.Prompts), n)
	} else {
		if len(xs) != len(req.Prompts) {
			return nil, fmt.Errorf("sample: %d starting latents for %d prompts", len(xs), len(req.Prompts))
		}
		cp := make([][]float32, len(xs))
		for p, x := range xs {
			if len(x) != n {
				return nil, fmt.Errorf("sample: starting latent %d has %d values, want %d (shape %v)", p, len(x), n, req.Shape)
			}
			cp[p] = append([]float32(nil), x...)
		}
		xs = cp
	}
	return &sampler{
		d: d, opts: opts, prompts: req.Prompts, shape: req.Shape, n: n, xs: xs, onStep: req.OnStep,
		res: &Result{Shape: req.Shape},
	}, nil
}

func (s *sampler) run(ctx context.Context) (*Result, error) {
	s.start = time.Now()
	var err error
	switch s.opts.Solver {
	case SolverEuler:
		err = s.euler(ctx)
	case SolverMidpoint:
		err = s.midpoint(ctx)
	case SolverFDPM:
		err = s.fdpm(ctx)
	}
	if err != nil {
		return nil, err
	}
	s.res.Images = s.xs
	s.res.Total = time.Since(s.start)
	return s.res, nil
}

func (s *sampler) beginStep(i, of int, t float64) time.Time {
	s.cur = StepInfo{Step: i, Of: of, T: float32(t)}
	s.force = i == 0 || i == of-1
	return time.Now()
}

// endStep books the step just taken, after checking that it left every latent finite.
func (s *sampler) endStep(began time.Time) error {
	if err := s.checkFinite("latent", s.xs); err != nil {
		return err
	}
	s.cur.Wall = time.Since(began)
	s.res.Steps = append(s.res.Steps, s.cur)
	if s.onStep != nil {
		s.onStep(s.cur)
	}
	return nil
}

// checkFinite ends sampling when a velocity or latent (what) of some prompt holds NaN or ±Inf: the image
// would come out black, and no later step can bring it back.
func (s *sampler) checkFinite(what string, vs [][]float32) error {
	for p, v := range vs {
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("sample: step %d of %d (t=%.3g): the %s of prompt %d is %v at element %d: the model's output "+
					"overflowed at these settings; lower --cfg (or cap the guided velocity with --renorm 1), or use another checkpoint", s.cur.Step+1, s.cur.Of, s.cur.T, what, p+1, x, i)
			}
		}
	}
	return nil
}

// axpy returns x + a·y as a new slice, in float32 like the reference.
func axpy(x []float32, a float32, y []float32) []float32 {
	out := make([]float32, len(x))
	for i := range x {
		out[i] = x[i] + a*y[i]
	}
	return out
}

func (s *sampler) euler(ctx context.Context) error {
	g := TimeGrid(s.opts.Steps, s.opts.Shift)
	steps := len(g) - 1
	for i := 0; i < steps; i++ {
		began := s.beginStep(i, steps, g[i])
		v, err := s.velocity(ctx, s.xs, float32(g[i]))
		if err != nil {
			return err
		}
		dt := float32(g[i+1] - g[i])
		for p := range s.xs {
			s.xs[p] = axpy(s.xs[p], dt, v[p])
		}
		if err := s.endStep(began); err != nil {
			return err
		}
	}
	return nil
}

// midpoint is torchdiffeq's fixed-grid midpoint rule: y += dt·f(t + dt/2, y + (dt/2)·f(t, y)).
func (s *sampler) midpoint(ctx context.Context) error {
	g := TimeGrid(s.opts.Steps, s.opts.Shift)
	steps := len(g) - 1
	for i := 0; i < steps; i++ {
		began := s.beginStep(i, steps, g[i])
		dt := g[i+1] - g[i]
		k1, err := s.velocity(ctx, s.xs, float32(g[i]))
		if err != nil {
			return err
		}
		mid := make([][]float32, len(s.xs))
		for p := range s.xs {
			mid[p] = axpy(s.xs[p], float32(0.5*dt), k1[p])
		}
		k2, err := s.velocity(ctx, mid, float32(g[i]+0.5*dt))
		if err != nil {
			return err
		}
		for p := range s.xs {
			s.xs[p] = axpy(s.xs[p], float32(dt), k2[p])
		}
		if err := s.endStep(began); err != nil {
			return err
		}
	}
	return nil
}

// fdpm is Flow-DPM-Solver: DPM-Solver++ (data prediction, multistep order 2) on the flow, with
// α_σ = 1 − σ, λ = log((1−σ)/σ) and x0 = x + σ·v. The first step is first order; the last one lands on
// σ = 0, where the update reduces to x = x0.
func (s *sampler) fdpm(ctx context.Context) error {
	sg := SigmaGrid(s.opts.Steps, s.opts.Shift)
	steps := len(sg) - 1
	lambda := func(sig float64) float64 { return math.Log((1 - sig) / sig) }
	var prevX0 [][]float32
	var hPrev float64
	for i := 0; i < steps; i++ {
		began := s.beginStep(i, steps, 1-sg[i])
		v, err := s.velocity(ctx, s.xs, float32(1-sg[i]))
		if err != nil {
			return err
		}
		x0 := make([][]float32, len(s.xs))
		for p := range s.xs {
			x0[p] = axpy(s.xs[p], float32(sg[i]), v[p])
		}
		if sg[i+1] == 0 {
			// λ = +∞ here: σ_t/σ_s → 0 and expm1(−h) → −1, so x_t = x0 (and the second-order
			// correction's r0 = h_prev/h → 0 would divide by zero).
			s.xs = x0
		} else {
			h := lambda(sg[i+1]) - lambda(sg[i])
			phi := math.Expm1(-h)
			alphaT := 1 - sg[i+1]
			a := float32(sg[i+1] / sg[i])
			b := float32(-alphaT * phi)
			for p := range s.xs {
				x, d0 := s.xs[p], x0[p]
				out := make([]float32, len(x))
				if prevX0 == nil {
					for j := range out {
						out[j] = a*x[j] + b*d0[j]
					}
				} else {
					// D1 = (x0_k − x0_{k−1}) / r0 with r0 = h_prev/h.
					c := float32(-0.5 * alphaT * phi * h / hPrev)
					dp := prevX0[p]
					for j := range out {
						out[j] = a*x[j] + b*d0[j] + c*(d0[j]-dp[j])
					}
				}
				s.xs[p] = out
			}
			hPrev = h
		}
		prevX0 = x0
		if err := s.endStep(began); err != nil {
			return err
		}
	}
	return nil
}

// velocity is the guided model function: one forward of the batch [cond_0 … cond_{P−1}, uncond_0 …
// uncond_{P−1}] under CFG (the conditional half alone when CFG is off or truncated at this t), with
// TeaCache deciding per sample whether the main layers run. It returns one velocity per prompt.
func (s *sampler) velocity(ctx context.Context, xs [][]float32, t float32) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sample: stopped before forward %d: %w", s.evals, err)
	}
	guided := s.opts.guided(t)
	x, tt, conds := s.batch(xs, t, guided)
	b := len(tt)
	st, err := s.d.Begin(x, [4]int{b, s.shape[0], s.shape[1], s.shape[2]}, tt, conds)
	if err != nil {
		return nil, fmt.Errorf("sample: forward %d at t=%g: begin: %w", s.evals, t, err)
	}
	ran, skipped, err := s.mainLayers(st, b, len(xs))
	if err != nil {
		return nil, err
	}
	out, err := s.d.Finish(st)
	if err != nil {
		return nil, fmt.Errorf("sample: forward %d: final layer: %w", s.evals, err)
	}
	if len(out) != b*s.n {
		return nil, fmt.Errorf("sample: forward %d: denoiser returned %d values, want %d ([%d, %d, %d, %d])",
			s.evals, len(out), b*s.n, b, s.shape[0], s.shape[1], s.shape[2])
	}
	s.count(b, ran, skipped)
	vs := s.guide(out, len(xs), guided)
	if err := s.checkFinite("velocity", vs); err != nil {
		return nil, err
	}
	return vs, nil
}

// batch lays out one forward's inputs: the latents (twice under guidance: conditional then
// unconditional), the time and each sample's caption ("" for the unconditional half).
func (s *sampler) batch(xs [][]float32, t float32, guided bool) (x, tt []float32, conds []Cond) {
	np, n := len(xs), s.n
	b := np
	if guided {
		b = 2 * np
	}
	x = make([]float32, b*n) // [B, C, H, W]
	tt = make([]float32, b)  // [B]
	conds = make([]Cond, b)  // [B]
	for i := 0; i < b; i++ {
		p := i % np
		copy(x[i*n:(i+1)*n], xs[p])
		tt[i] = t
		if i < np {
			conds[i] = Cond{Text: s.prompts[p]}
		}
	}
	return x, tt, conds
}

// mainLayers runs the main layers for the samples TeaCache computes and applies the cached residual
// to the others; it returns how many of each. Without TeaCache or calibration every sample computes.
func (s *sampler) mainLayers(st State, b, np int) (ran, skipped int, err error) {
	key := func(i int) branchKey { return branchKey{prompt: i % np, uncond: i >= np} }
	run, skip, mods, err := s.decide(st, b, key)
	if err != nil {
		return 0, 0, err
	}
	if len(run) > 0 {
		if err := s.d.Main(st, run); err != nil {
			return 0, 0, fmt.Errorf("sample: forward %d: main layers: %w", s.evals, err)
		}
	}
	if s.tea != nil || s.calib != nil {
		for _, i := range run {
			r, err := s.d.Residual(st, i)
			if err != nil {
				return 0, 0, fmt.Errorf("sample: forward %d: residual of sample %d: %w", s.evals, i, err)
			}
			if s.tea != nil {
				s.tea.store(key(i), r)
			}
			if s.calib != nil {
				s.calib.record(s.evals, key(i), mods[i], r)
			}
		}
	}
	for _, i := range skip {
		if err := s.d.ApplyResidual(st, i, s.tea.cached(key(i))); err != nil {
			return 0, 0, fmt.Errorf("sample: forward %d: cached residual of sample %d: %w", s.evals, i, err)
		}
	}
	return len(run), len(skip), nil
}

// decide splits the batch into the samples whose main layers run and those TeaCache skips, reading
// each sample's modulated input when TeaCache or calibration needs it (mods, kept for calibration).
func (s *sampler) decide(st State, b int, key func(int) branchKey) (run, skip []int, mods [][]float32, err error) {
	run = make([]int, 0, b)
	if s.tea == nil && s.calib == nil {
		for i := 0; i < b; i++ {
			run = append(run, i)
		}
		return run, nil, nil, nil
	}
	mods = make([][]float32, b)
	for i := 0; i < b; i++ {
		m, err := s.d.Modulated(st, i)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("sample: forward %d: modulated input of sample %d: %w", s.evals, i, err)
		}
		if s.tea != nil && !s.tea.decide(key(i), m, s.force) {
			skip = append(skip, i)
			continue
		}
		if s.calib != nil {
			mods[i] = append([]float32(nil), m...) // the denoiser may reuse m's buffer
		}
		run = append(run, i)
	}
	return run, skip, mods, nil
}

// guide turns the forward's output into one velocity per prompt: classifier-free guidance (with
// CFG-Renorm) of the two halves, or the conditional half as it is.
func (s *sampler) guide(out []float32, np int, guided bool) [][]float32 {
	n := s.n
	vs := make([][]float32, np)
	for p := range vs {
		vc := out[p*n : (p+1)*n] // [C, H, W]
		if guided {
			vu := out[(np+p)*n : (np+p+1)*n] // [C, H, W]
			vs[p] = Guide(vc, vu, s.opts.CFG, s.opts.Renorm)
		} else {
			vs[p] = append([]float32(nil), vc...)
		}
	}
	return vs
}

// count books one forward of b samples, ran of whose main stacks computed and skipped came from
// TeaCache.
func (s *sampler) count(b, ran, skipped int) {
	s.evals++
	s.res.NFE++
	s.res.Forwards += b
	s.res.MainComputed += ran
	s.res.MainSkipped += skipped
	s.cur.Batch = append(s.cur.Batch, b)
	s.cur.Skipped += skipped
}
