package train

// The batch source. The batch of step k of stage s is a pure function of (seed, s, k): which items,
// their captions, the noise and the times all come from PCG streams keyed by those numbers (and by the
// item's slot in the batch), never from a generator that runs along with training. Nothing about the
// data stream needs saving in a checkpoint, and a resumed run sees exactly the batches an uninterrupted
// one would.

import (
	"fmt"
	"image"
	"math/rand/v2"
	"sync"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/model/flow"
)

// Channels is the number of image channels (RGB pixels; this project has no VAE).
const Channels = 3

// Batch is one training step's input. Image tensors are float32, row-major [B, 3, H, W], pixels scaled
// to [-1, 1]. The model uses them as given: x1 = Images (data), x0 = Noise, and t = T, so a model step
// is a deterministic function of the batch and the model state.
type Batch struct {
	Stage int
	Kind  StageKind
	// Step is the 0-based step within the stage.
	Step int
	// LR is the learning rate of this step (warm-up and schedule applied).
	LR float64

	// Items describe each sample: dataset index, scene and caption choice.
	Items []Item
	// Captions[i] is the text the text encoder sees for sample i ("" when dropped).
	Captions []string

	// Width and Height of Images (both 0 in a text-encoder stage, which has no images).
	Width, Height int
	// DualPanel is true when the whole batch is Template C dual panels (Height = 2·Width).
	DualPanel bool
	Images    []float32 // [B, 3, H, W] x1, in [-1, 1]
	Noise     []float32 // [B, 3, H, W] x0 ~ N(0, 1)
	T         []float64 // [B] flow time, shift applied; 0 = noise, 1 = data

	// Aux is the auxiliary low-resolution forward's input, nil when the stage has no aux loss.
	Aux *AuxBatch
}

// AuxBatch is the second, independent forward: AvgPool4 of the same images, with its own noise and t,
// and the same captions (so the same caption features).
type AuxBatch struct {
	Width, Height int       // the pooled size: Batch.Width/4 × Batch.Height/4
	Images        []float32 // [B, 3, H/4, W/4] AvgPool4(x1)
	Noise         []float32 // [B, 3, H/4, W/4] fresh x0
	T             []float64 // [B] fresh t, shifted for the pooled token count
}

// Item is one sample of a batch.
type Item struct {
	// Index is the dataset item.
	Index   int
	Scene   world.Scene
	Caption CaptionChoice
	// Panel is the lower-panel kind of a dual-panel sample.
	Panel world.PanelKind
}

// Stream salts of the keyed generators: each purpose draws from its own stream.
const (
	streamPerm uint64 = iota + 1
	streamCaption
	streamNoise
	streamT
	streamAuxNoise
	streamAuxT
	streamPanel
	streamWeak
)

// mix64 is SplitMix64's finaliser: a bijection that spreads nearby keys far apart.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// keyedRNG is the generator of one (seed, stream, keys...) tuple.
func keyedRNG(seed, stream uint64, keys ...uint64) *rand.Rand {
	h := mix64(seed ^ mix64(stream))
	for _, k := range keys {
		h = mix64(h ^ k)
	}
	return rand.New(rand.NewPCG(h, mix64(h^stream)))
}

// BatchSource builds the batches of every stage of one preset.
type BatchSource struct {
	p    *Preset
	seed uint64
	ds   *dataset.Dataset

	mu      sync.Mutex
	subsets map[int][]int // stage → dataset indices
	perm    struct {
		stage, epoch int
		idx          []int
	}
}

// NewBatchSource makes the dataset of the preset; seed is the run's seed.
func NewBatchSource(p *Preset, seed uint64) (*BatchSource, error) {
	ds, err := dataset.New(seed, p.Data.Items, p.Data.Sampler)
	if err != nil {
		return nil, fmt.Errorf("batch source: %w", err)
	}
	bs := &BatchSource{p: p, seed: seed, ds: ds, subsets: map[int][]int{}}
	bs.perm.stage = -1
	return bs, nil
}

// Dataset is the dataset the batches draw from.
func (bs *BatchSource) Dataset() *dataset.Dataset { return bs.ds }

func (bs *BatchSource) subset(stage int) ([]int, error) {
	if s, ok := bs.subsets[stage]; ok {
		return s, nil
	}
	st := bs.p.Stages[stage]
	frac := st.Subset
	if st.Kind == KindTextEncoder || frac == 0 {
		frac = 1
	}
	idx, err := bs.ds.Subset(frac * 100)
	if err != nil {
		return nil, fmt.Errorf("stage %d subset: %w", stage, err)
	}
	bs.subsets[stage] = idx
	return idx, nil
}

// items picks the dataset indices of a step: the stage's subset is walked in a fresh permutation per
// epoch (every item once per epoch), positions step·B … step·B+B−1.
func (bs *BatchSource) items(stage, step, b int) ([]int, error) {
	sub, err := bs.subset(stage)
	if err != nil {
		return nil, err
	}
	n := len(sub)
	out := make([]int, b)
	for j := range b {
		pos := step*b + j
		epoch := pos / n
		if bs.perm.stage != stage || bs.perm.epoch != epoch || bs.perm.idx == nil {
			rng := keyedRNG(bs.seed, streamPerm, uint64(stage), uint64(epoch))
			bs.perm.idx = rng.Perm(n)
			bs.perm.stage, bs.perm.epoch = stage, epoch
		}
		out[j] = sub[bs.perm.idx[pos%n]]
	}
	return out, nil
}

// TimeSampler is the stage's t sampler for images of w×h pixels.
func (bs *BatchSource) TimeSampler(w, h int) flow.TimeSampler {
	o := bs.p.Objective
	ts := flow.TimeSampler{Dist: o.TDist, Shift: o.ResolutionShift}
	if ts.Shift {
		if o.ShiftMu != nil {
			ts.Mu = *o.ShiftMu
		} else {
			ts.Mu = flow.MuForTokens(flow.Tokens(w, h, o.Patch))
		}
	}
	return ts
}

// Batch builds the batch of step (0-based) of stage. It is safe for one goroutine at a time.
func (bs *BatchSource) Batch(stage, step int) (*Batch, error) {
	if stage < 0 || stage >= len(bs.p.Stages) {
		return nil, fmt.Errorf("batch: stage %d outside 0..%d", stage, len(bs.p.Stages)-1)
	}
	if step < 0 {
		return nil, fmt.Errorf("batch: negative step %d", step)
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	st := bs.p.Stages[stage]
	B := st.Batch
	idx, err := bs.items(stage, step, B)
	if err != nil {
		return nil, err
	}
	b := &Batch{Stage: stage, Kind: st.Kind, Step: step, LR: LRAt(st, step), Items: make([]Item, B), Captions: make([]string, B)}
	ccfg := bs.p.CaptionConfig(stage)
	if st.Kind == KindTextEncoder {
		// Language-model pre-training: empty strings teach nothing, so no dropout here.
		ccfg.Dropout = 0
	}
	if st.DualPanel != nil && st.Kind == KindDiT {
		b.DualPanel = keyedRNG(bs.seed, streamPanel, uint64(stage), uint64(step)).Float64() < st.DualPanel.Frac
	}
	for j, i := range idx {
		s, err := bs.ds.Scene(i)
		if err != nil {
			return nil, err
		}
		it := Item{Index: i, Scene: s}
		var panel *world.PanelKind
		if b.DualPanel {
			kinds := st.DualPanel.Kinds
			it.Panel = kinds[keyedRNG(bs.seed, streamPanel, uint64(stage), uint64(step), uint64(j)).IntN(len(kinds))]
			panel = &it.Panel
		}
		rng := keyedRNG(bs.seed, streamCaption, uint64(stage), uint64(step), uint64(j))
		it.Caption = ChooseCaption(ccfg, s, i, panel, rng, bs.captionSource(s, i, ccfg))
		b.Items[j] = it
		b.Captions[j] = it.Caption.Text
	}
	if st.Kind == KindTextEncoder {
		return b, nil
	}

	w, h := st.Resolution, st.Resolution
	if b.DualPanel {
		h = 2 * w
	}
	b.Width, b.Height = w, h
	per := Channels * w * h
	b.Images = make([]float32, B*per)
	for j, it := range b.Items {
		var img *image.RGBA
		if b.DualPanel {
			img, err = world.RenderDualPanel(it.Scene, w, h, it.Panel)
		} else {
			img, err = world.Render(it.Scene, w, h)
		}
		if err != nil {
			return nil, fmt.Errorf("batch stage %d step %d item %d: %w", stage, step, it.Index, err)
		}
		world.ImageToCHW(img, b.Images[j*per:(j+1)*per])
	}
	ts := bs.TimeSampler(w, h)
	b.Noise, b.T = bs.noiseAndT(B, per, ts, streamNoise, streamT, stage, step)
	if st.AuxLoss {
		pooled, err := flow.AvgPool(b.Images, B, Channels, h, w)
		if err != nil {
			return nil, fmt.Errorf("batch stage %d step %d: %w", stage, step, err)
		}
		aw, ah := w/4, h/4
		a := &AuxBatch{Width: aw, Height: ah, Images: pooled}
		a.Noise, a.T = bs.noiseAndT(B, Channels*aw*ah, bs.TimeSampler(aw, ah), streamAuxNoise, streamAuxT, stage, step)
		b.Aux = a
	}
	return b, nil
}

func (bs *BatchSource) noiseAndT(B, per int, ts flow.TimeSampler, nStream, tStream uint64, stage, step int) ([]float32, []float64) {
	noise := make([]float32, B*per)
	t := make([]float64, B)
	for j := range B {
		rng := keyedRNG(bs.seed, nStream, uint64(stage), uint64(step), uint64(j))
		for k := j * per; k < (j+1)*per; k++ {
			noise[k] = float32(rng.NormFloat64())
		}
		t[j] = ts.Sample(keyedRNG(bs.seed, tStream, uint64(stage), uint64(step), uint64(j)))
	}
	return noise, t
}

// captionSource backs ChooseCaption with the dataset's fixed per-item captions (a real dataset has
// fixed captions per image too, and it makes caption features cacheable), and the weak captioner with
// a per-item generator.
func (bs *BatchSource) captionSource(s world.Scene, i int, c CaptionConfig) CaptionSource {
	return func(g caption.Granularity, lang caption.Lang, weak bool) string {
		if weak {
			return c.Weak.Caption(s, keyedRNG(bs.seed, streamWeak, uint64(i)))
		}
		text, err := bs.ds.Caption(i, g, lang)
		if err != nil {
			// i comes from the dataset's own subset, so this cannot happen; fall back to the scene.
			return caption.Write(s, g, lang, keyedRNG(bs.seed, streamWeak, uint64(i), 1))
		}
		return text
	}
}
