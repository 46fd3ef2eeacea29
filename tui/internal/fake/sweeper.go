package fake

import (
	"context"
	"errors"
	"hash/fnv"
	"os"
	"slices"

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/infer"
)

// Sweeper runs the real ablation engine on an instant fake model, into real folders under Dir.
type Sweeper struct {
	Dir string
	// Ckpt is the (empty) file the grids name as their checkpoint; NewSweeper makes it.
	Ckpt string
	// Gate, when set, makes every image wait for a value from it (or ctx), so tests see a sweep half-way.
	Gate chan struct{}
	Err  error
}

// NewSweeper puts sweeps under root and a stand-in checkpoint beside them.
func NewSweeper(root string) *Sweeper {
	os.MkdirAll(root, 0o755)
	ck := root + "/fake.safetensors"
	os.WriteFile(ck, []byte("fake"), 0o644)
	return &Sweeper{Dir: root, Ckpt: ck}
}

// Root implements backend.Sweeper.
func (s *Sweeper) Root() string { return s.Dir }

// Defaults implements backend.Sweeper: the sampler's defaults at 16 px and few steps, so tests are quick.
func (s *Sweeper) Defaults() ablation.Setting {
	d := ablation.DefaultSetting(s.Ckpt)
	d.Res, d.Steps = 16, 4
	return d
}

// Run implements backend.Sweeper.
func (s *Sweeper) Run(ctx context.Context, o ablation.Options) (*ablation.Stats, error) {
	if s.Err != nil {
		return nil, s.Err
	}
	o.Loader = loader{s.Gate, ctx}
	return ablation.Run(ctx, o)
}

type loader struct {
	gate chan struct{}
	ctx  context.Context
}

func (l loader) Check(path string, _ []ablation.Setting) error {
	if _, err := os.Stat(path); err != nil {
		return errors.New("no such checkpoint")
	}
	return nil
}

func (l loader) Load(string) (ablation.Checkpoint, error) {
	return &flow{gate: l.gate, ctx: l.ctx}, nil
}

// flow pulls every value toward a pattern hashed from the caption: deterministic, instant, different
// per prompt and seed. Its main stack adds target − 2x, so its velocity is target − x and TeaCache has
// a residual to reuse.
type flow struct {
	gate chan struct{}
	ctx  context.Context
}

type flowState struct{ x, h, target [][]float32 }

func pattern(text string, n int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	v := h.Sum64() | 1
	out := make([]float32, n)
	for i := range out {
		v ^= v << 13
		v ^= v >> 7
		v ^= v << 17
		out[i] = float32(int64(v%2001)-1000) / 1000
	}
	return out
}

func (f *flow) Begin(x []float32, shape [4]int, t []float32, cond []infer.Cond) (infer.State, error) {
	// One wait per image: its first conditional forward (the unconditional one has no text).
	if f.gate != nil && t[0] == 0 && slices.ContainsFunc(cond, func(c infer.Cond) bool { return c.Text != "" }) {
		select {
		case <-f.gate:
		case <-f.ctx.Done():
			return nil, f.ctx.Err()
		}
	}
	n := shape[1] * shape[2] * shape[3]
	st := &flowState{}
	for i := range shape[0] {
		xi := append([]float32(nil), x[i*n:(i+1)*n]...)
		st.x = append(st.x, xi)
		st.h = append(st.h, append([]float32(nil), xi...))
		st.target = append(st.target, pattern(cond[i].Text, n))
	}
	return st, nil
}

func (f *flow) Modulated(s infer.State, i int) ([]float32, error) { return s.(*flowState).x[i], nil }

func (f *flow) Main(s infer.State, samples []int) error {
	st := s.(*flowState)
	for _, i := range samples {
		for k := range st.h[i] {
			st.h[i][k] += st.target[i][k] - 2*st.x[i][k]
		}
	}
	return nil
}

func (f *flow) Residual(s infer.State, i int) ([]float32, error) {
	st := s.(*flowState)
	r := make([]float32, len(st.h[i]))
	for k := range r {
		r[k] = st.h[i][k] - st.x[i][k]
	}
	return r, nil
}

func (f *flow) ApplyResidual(s infer.State, i int, r []float32) error {
	st := s.(*flowState)
	for k := range r {
		st.h[i][k] = st.x[i][k] + r[k]
	}
	return nil
}

func (f *flow) Finish(s infer.State) ([]float32, error) {
	var v []float32
	for _, h := range s.(*flowState).h {
		v = append(v, h...)
	}
	return v, nil
}

func (f *flow) Channels() int        { return 3 }
func (f *flow) Patch() int           { return 4 }
func (f *flow) TeaCoeffs() []float64 { return []float64{1, 0} }
func (f *flow) Close() error         { return nil }
