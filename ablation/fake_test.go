package ablation

import (
	"errors"
	"hash/fnv"
	"os"
	"sync/atomic"

	"github.com/lumina-workbench/lumina/infer"
)

// fakeModel is a flow whose velocity pulls each pixel towards a pattern hashed from the caption:
// deterministic, different per prompt, seed and setting, and instant. Its main stack adds
// target − 2x to the stream (so the velocity is target − x), which gives TeaCache something to skip.
type fakeModel struct{ closed *atomic.Int32 }

type fakeState struct {
	x, h   [][]float32
	target [][]float32
}

func pattern(text string, n int) []float32 {
	out := make([]float32, n)
	if text == "" {
		return out
	}
	h := fnv.New64a()
	h.Write([]byte(text))
	s := h.Sum64()
	for i := range out {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		out[i] = float32(int64(s%2001)-1000) / 1000
	}
	return out
}

func (fakeModel) Begin(x []float32, shape [4]int, t []float32, cond []infer.Cond) (infer.State, error) {
	n := shape[1] * shape[2] * shape[3]
	st := &fakeState{}
	for i := range shape[0] {
		xi := append([]float32(nil), x[i*n:(i+1)*n]...)
		st.x = append(st.x, xi)
		st.h = append(st.h, append([]float32(nil), xi...))
		st.target = append(st.target, pattern(cond[i].Text, n))
	}
	return st, nil
}

func (fakeModel) Modulated(s infer.State, i int) ([]float32, error) { return s.(*fakeState).x[i], nil }

func (fakeModel) Main(s infer.State, samples []int) error {
	st := s.(*fakeState)
	for _, i := range samples {
		for k := range st.h[i] {
			st.h[i][k] += st.target[i][k] - 2*st.x[i][k]
		}
	}
	return nil
}

func (fakeModel) Residual(s infer.State, i int) ([]float32, error) {
	st := s.(*fakeState)
	r := make([]float32, len(st.h[i]))
	for k := range r {
		r[k] = st.h[i][k] - st.x[i][k]
	}
	return r, nil
}

func (fakeModel) ApplyResidual(s infer.State, i int, r []float32) error {
	st := s.(*fakeState)
	for k := range r {
		st.h[i][k] = st.x[i][k] + r[k]
	}
	return nil
}

func (fakeModel) Finish(s infer.State) ([]float32, error) {
	var v []float32
	for _, h := range s.(*fakeState).h {
		v = append(v, h...)
	}
	return v, nil
}

func (fakeModel) Channels() int        { return 3 }
func (fakeModel) Patch() int           { return 4 }
func (fakeModel) TeaCoeffs() []float64 { return []float64{1, 0} }
func (m fakeModel) Close() error       { m.closed.Add(1); return nil }

// fakeLoader opens fakeModels for any path that exists; checkErr, when set, fails Check.
type fakeLoader struct {
	loads, closed atomic.Int32
	checkErr      error
}

func (l *fakeLoader) Check(path string, _ []Setting) error {
	if l.checkErr != nil {
		return l.checkErr
	}
	if _, err := os.Stat(path); err != nil {
		return errors.New("no such checkpoint")
	}
	return nil
}

func (l *fakeLoader) Load(string) (Checkpoint, error) {
	l.loads.Add(1)
	return fakeModel{&l.closed}, nil
}
