package infer

import (
	"fmt"
	"math"
)

// gaussFlow is a Denoiser whose flow is known in closed form: data x1 ~ N(μ, diag sd²), noise
// x0 ~ N(0, I), x_t = t·x1 + (1−t)·x0. The exact velocity is
//
//	v(x, t) = E[x1 − x0 | x_t = x] = μ + (t·sd² − (1−t)) / (t²·sd² + (1−t)²) · (x − t·μ),
//
// and the ODE carries x_t = t·μ + σ_t·z with σ_t = sqrt(t²sd² + (1−t)²), so the endpoint from x at
// time t0 is μ + sd·(x − t0·μ)/σ_{t0}. The conditional branch ("" is the unconditional one) has mean
// muC, the unconditional muU. Begin copies x into the main stream, the main stack adds the velocity
// (so its residual is v), and the final layer returns stream − x: every method of the interface does
// something a cache can get wrong. It records what it was asked, for the tests.
type gaussFlow struct {
	shape    [3]int
	n        int
	muC, muU []float64
	sd       []float64

	// frozenUncond makes the unconditional branch's modulated input constant, so TeaCache sees no
	// change there while the conditional one keeps changing.
	frozenUncond bool
	// frozenAll makes every modulated input constant: TeaCache then skips all it may.
	frozenAll bool
	// field, when set, replaces the Gaussian velocity by another one (j is the dimension).
	field func(x, t float64, j int) float64

	batches  []int         // batch size of each forward
	times    []float32     // t of each forward
	mainRuns [][]int       // samples given to Main in each forward
	mods     [][][]float32 // modulated input returned, per forward and sample (nil when not asked)
	resids   [][][]float32 // residual returned, per forward and sample
}

type gaussState struct {
	fwd   int
	b     int
	x     []float32 // [B, C, H, W]
	t     []float32 // [B]
	cond  []Cond    // [B]
	in    []float32 // main-stack input [B, C, H, W]
	h     []float32 // main stream [B, C, H, W]
	ready []bool    // [B] main output present (computed or cached)
}

func newGaussFlow(shape [3]int) *gaussFlow {
	n := shape[0] * shape[1] * shape[2]
	g := &gaussFlow{shape: shape, n: n, muC: make([]float64, n), muU: make([]float64, n), sd: make([]float64, n)}
	for j := 0; j < n; j++ {
		g.muC[j] = 1.5 * math.Sin(0.7*float64(j)+0.3)
		g.muU[j] = 0.4 * math.Cos(0.5*float64(j))
		g.sd[j] = 0.5 + 0.9*float64(j%7)/6
	}
	return g
}

func (g *gaussFlow) mu(c Cond) []float64 {
	if c.Text == "" {
		return g.muU
	}
	return g.muC
}

func exactVelocity(x, t, mu, sd float64) float64 {
	s2 := sd * sd
	v2 := t*t*s2 + (1-t)*(1-t)
	return mu + (t*s2-(1-t))/v2*(x-t*mu)
}

// exactEndpoint carries x from time t0 to t = 1 along the exact flow, in float64.
func (g *gaussFlow) exactEndpoint(x []float32, t0 float64, mu []float64) []float64 {
	out := make([]float64, len(x))
	for j := range x {
		sig := math.Sqrt(t0*t0*g.sd[j]*g.sd[j] + (1-t0)*(1-t0))
		out[j] = mu[j] + g.sd[j]*(float64(x[j])-t0*mu[j])/sig
	}
	return out
}

func (g *gaussFlow) Begin(x []float32, shape [4]int, t []float32, cond []Cond) (State, error) {
	b := shape[0]
	if [3]int{shape[1], shape[2], shape[3]} != g.shape || len(x) != b*g.n || len(t) != b || len(cond) != b {
		return nil, fmt.Errorf("gaussFlow: bad batch shape %v (x %d, t %d, cond %d)", shape, len(x), len(t), len(cond))
	}
	st := &gaussState{fwd: len(g.batches), b: b, x: x, t: t, cond: cond,
		in: append([]float32(nil), x...), h: append([]float32(nil), x...), ready: make([]bool, b)}
	g.batches = append(g.batches, b)
	g.times = append(g.times, t[0])
	g.mainRuns = append(g.mainRuns, nil)
	g.mods = append(g.mods, make([][]float32, b))
	g.resids = append(g.resids, make([][]float32, b))
	return st, nil
}

func (g *gaussFlow) Modulated(s State, i int) ([]float32, error) {
	st := s.(*gaussState)
	m := make([]float32, g.n)
	if g.frozenAll || (g.frozenUncond && st.cond[i].Text == "") {
		for j := range m {
			m[j] = 1
		}
	} else {
		xi := st.x[i*g.n : (i+1)*g.n]
		rms := math.Sqrt(sumSq(xi) / float64(g.n))
		for j := range m {
			m[j] = float32(float64(xi[j]) / rms * (1 + float64(st.t[i])))
		}
	}
	g.mods[st.fwd][i] = m
	return m, nil
}

func (g *gaussFlow) Main(s State, samples []int) error {
	st := s.(*gaussState)
	g.mainRuns[st.fwd] = append([]int(nil), samples...)
	for _, i := range samples {
		mu := g.mu(st.cond[i])
		t := float64(st.t[i])
		for j := 0; j < g.n; j++ {
			k := i*g.n + j
			var v float64
			if g.field != nil {
				v = g.field(float64(st.in[k]), t, j)
			} else {
				v = exactVelocity(float64(st.in[k]), t, mu[j], g.sd[j])
			}
			st.h[k] = st.in[k] + float32(v)
		}
		st.ready[i] = true
	}
	return nil
}

func (g *gaussFlow) Residual(s State, i int) ([]float32, error) {
	st := s.(*gaussState)
	r := make([]float32, g.n)
	for j := range r {
		r[j] = st.h[i*g.n+j] - st.in[i*g.n+j]
	}
	g.resids[st.fwd][i] = r
	return r, nil
}

func (g *gaussFlow) ApplyResidual(s State, i int, r []float32) error {
	st := s.(*gaussState)
	if len(r) != g.n {
		return fmt.Errorf("gaussFlow: residual of %d values, want %d", len(r), g.n)
	}
	for j := range r {
		st.h[i*g.n+j] = st.in[i*g.n+j] + r[j]
	}
	st.ready[i] = true
	return nil
}

func (g *gaussFlow) Finish(s State) ([]float32, error) {
	st := s.(*gaussState)
	for i, ok := range st.ready {
		if !ok {
			return nil, fmt.Errorf("gaussFlow: sample %d reached the final layer without main output", i)
		}
	}
	out := make([]float32, len(st.h))
	for k := range out {
		out[k] = st.h[k] - st.x[k]
	}
	return out, nil
}
