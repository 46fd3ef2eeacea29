package train

// A small deterministic stand-in for the real model: linear regression on features of the batch
// (x_t channel means, t, caption length), trained by SGD with momentum. Everything it reads from the
// batch feeds its loss, so a batch that differs in any item, caption, noise value or t changes the
// loss curve, which is what the exact-resume tests need.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/lumina-workbench/lumina/model/flow"
)

const fakeD = 7

type fakeModel struct {
	w, mom []float64
	stage  int

	// Test hooks and counters.
	mu          sync.Mutex
	nanAt       map[[2]int]bool // (stage, 0-based step) → report a NaN loss
	before      func(b *Batch) error
	after       func(b *Batch)
	saveFail    error // SaveCheckpoint writes half, then fails with this
	applied     atomic.Int64
	begins      []string
	mainCalls   int
	auxCalls    int
	emptyCaps   int
	totalCaps   int
	sampleCalls int
}

func newFake() *fakeModel {
	w := make([]float64, fakeD)
	for i := range w {
		w[i] = 0.1 * float64(i+1)
	}
	return &fakeModel{w: w, mom: make([]float64, fakeD)}
}

func (f *fakeModel) BeginStage(st StageInfo) error {
	f.stage = st.Index
	f.mom = make([]float64, fakeD) // a fresh optimiser per stage
	f.begins = append(f.begins, fmt.Sprintf("%d:%v", st.Index, st.FromScratch))
	return nil
}

// features of one sample: 3 channel means of x_t, t, caption length, a bias, and the target mean(u).
func fakeFeatures(img, noise []float32, t float64, caption string) ([fakeD]float64, float64) {
	n := len(img)
	xt, u, err := flow.Interpolate(img, noise, []float64{t})
	if err != nil {
		panic(err)
	}
	var phi [fakeD]float64
	plane := n / Channels
	var y float64
	for c := range Channels {
		var s float64
		for _, v := range xt[c*plane : (c+1)*plane] {
			s += v
		}
		phi[c] = s / float64(plane)
	}
	for _, v := range u {
		y += v
	}
	phi[3] = t
	phi[4] = float64(utf8.RuneCountInString(caption)) / 100
	phi[5] = 1
	phi[6] = phi[0] * t
	return phi, y / float64(n)
}

// regress adds the squared-error loss and its gradient over a set of samples.
func (f *fakeModel) regress(phis [][fakeD]float64, ys []float64, grad []float64) float64 {
	var loss float64
	for i, phi := range phis {
		var pred float64
		for k := range fakeD {
			pred += f.w[k] * phi[k]
		}
		r := pred - ys[i]
		loss += r * r
		for k := range fakeD {
			grad[k] += 2 * r * phi[k] / float64(len(phis))
		}
	}
	return loss / float64(len(phis))
}

func (f *fakeModel) Step(ctx context.Context, b *Batch) (StepResult, error) {
	if f.before != nil {
		if err := f.before(b); err != nil {
			return StepResult{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return StepResult{}, err
	}
	f.mu.Lock()
	for _, c := range b.Captions {
		f.totalCaps++
		if c == "" {
			f.emptyCaps++
		}
	}
	f.mu.Unlock()
	grad := make([]float64, fakeD)
	var res StepResult
	if b.Kind == KindTextEncoder {
		phis := make([][fakeD]float64, len(b.Captions))
		ys := make([]float64, len(b.Captions))
		for i, c := range b.Captions {
			phis[i] = [fakeD]float64{float64(len(c)) / 100, float64(strings.Count(c, " ")) / 20, 0, 0, 0, 1, 0}
			ys[i] = float64(strings.Count(c, "e")) / 10
		}
		res.Loss = f.regress(phis, ys, grad)
	} else {
		f.mainCalls++
		per := Channels * b.Width * b.Height
		phis := make([][fakeD]float64, len(b.Items))
		ys := make([]float64, len(b.Items))
		for i := range b.Items {
			phis[i], ys[i] = fakeFeatures(b.Images[i*per:(i+1)*per], b.Noise[i*per:(i+1)*per], b.T[i], b.Captions[i])
		}
		res.Loss = f.regress(phis, ys, grad)
		if a := b.Aux; a != nil {
			f.auxCalls++
			ap := Channels * a.Width * a.Height
			for i := range b.Items {
				phis[i], ys[i] = fakeFeatures(a.Images[i*ap:(i+1)*ap], a.Noise[i*ap:(i+1)*ap], a.T[i], b.Captions[i])
			}
			res.AuxLoss = f.regress(phis, ys, grad)
		}
	}
	var gn float64
	for _, g := range grad {
		gn += g * g
	}
	res.GradNorm = math.Sqrt(gn)
	if f.nanAt[[2]int{b.Stage, b.Step}] {
		res.Loss = math.NaN()
	}
	if !finite(res.Loss) || !finite(res.AuxLoss) || !finite(res.GradNorm) {
		res.Skipped = true
		return res, nil
	}
	for k := range fakeD {
		f.mom[k] = 0.9*f.mom[k] + grad[k]
		f.w[k] -= b.LR * f.mom[k]
	}
	f.applied.Add(1)
	if f.after != nil {
		f.after(b)
	}
	return res, nil
}

const fakeMagic = "FAKECKPT"

func (f *fakeModel) SaveCheckpoint(w io.Writer, meta map[string]string) error {
	mb, _ := json.Marshal(meta)
	var buf []byte
	buf = append(buf, fakeMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(mb)))
	buf = append(buf, mb...)
	for _, v := range append(append([]float64{}, f.w...), f.mom...) {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
	}
	if f.saveFail != nil {
		if _, err := w.Write(buf[:len(buf)/2]); err != nil {
			return err
		}
		return f.saveFail
	}
	_, err := w.Write(buf)
	return err
}

func (f *fakeModel) LoadCheckpoint(r io.Reader) (map[string]string, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(fakeMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != fakeMagic {
		return nil, errors.New("not a fake checkpoint")
	}
	var n uint32
	if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	mb := make([]byte, n)
	if _, err := io.ReadFull(br, mb); err != nil {
		return nil, err
	}
	var meta map[string]string
	if err := json.Unmarshal(mb, &meta); err != nil {
		return nil, err
	}
	vals := make([]float64, 2*fakeD)
	for i := range vals {
		var u uint64
		if err := binary.Read(br, binary.LittleEndian, &u); err != nil {
			return nil, fmt.Errorf("truncated fake checkpoint: %w", err)
		}
		vals[i] = math.Float64frombits(u)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("trailing bytes in fake checkpoint")
	}
	f.w, f.mom = vals[:fakeD], vals[fakeD:]
	return meta, nil
}
