// Package dataset is the training data as items and files: the procedural dataset (items by index,
// quality tiers, each item's captions), its export to folders other tools read, the import of a user's
// captioned images, the contact sheet that shows a dataset, and the glyph atlas the sheet draws its
// English and Chinese captions with.
package dataset

// The on-the-fly dataset: item i is a pure function of (seed, sampler config, i), so nothing is stored,
// every resolution of progressive training sees the same scene, and any item can be regenerated alone.

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/world"
)

// Dataset is N procedural items drawn with one sampler config from one seed.
type Dataset struct {
	seed uint64
	n    int
	cfg  world.SamplerConfig

	qOnce   sync.Once
	quality []float64
	ranked  []int // indices by quality, best first; ties by index
}

// MaxItems bounds N: quality tiers rank every item, and this keeps that ranking cheap.
const MaxItems = 10_000_000

// New is the dataset of n items that cfg samples from seed; it checks the config and the size.
func New(seed uint64, n int, cfg world.SamplerConfig) (*Dataset, error) {
	if n < 1 || n > MaxItems {
		return nil, fmt.Errorf("dataset size %d outside 1..%d", n, MaxItems)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	cfg.Holdout = slices.Clone(cfg.Holdout)
	return &Dataset{seed: seed, n: n, cfg: cfg}, nil
}

// Len is N.
func (d *Dataset) Len() int { return d.n }

// Seed is the dataset's seed.
func (d *Dataset) Seed() uint64 { return d.seed }

// Config is a copy of the sampler config.
func (d *Dataset) Config() world.SamplerConfig {
	c := d.cfg
	c.Holdout = slices.Clone(c.Holdout)
	return c
}

// Stream salts: the scene, each caption and anything added later draw from separate generators, so
// adding a caption style never changes the scenes.
const (
	streamScene   = 0x5ce2e
	streamCaption = 0xca9710
)

func (d *Dataset) rng(stream, i uint64) *rand.Rand {
	return rand.New(rand.NewPCG(d.seed^stream*0x9e3779b97f4a7c15, i))
}

func (d *Dataset) check(i int) error {
	if i < 0 || i >= d.n {
		return fmt.Errorf("dataset index %d outside 0..%d", i, d.n-1)
	}
	return nil
}

// Scene is item i's scene.
func (d *Dataset) Scene(i int) (world.Scene, error) {
	if err := d.check(i); err != nil {
		return world.Scene{}, err
	}
	return world.SampleScene(d.rng(streamScene, uint64(i)), d.cfg), nil
}

// Image renders item i at w×h.
func (d *Dataset) Image(i, w, h int) (*image.RGBA, error) {
	s, err := d.Scene(i)
	if err != nil {
		return nil, err
	}
	img, err := world.Render(s, w, h)
	if err != nil {
		return nil, fmt.Errorf("dataset item %d: %w", i, err)
	}
	return img, nil
}

// Caption is item i's caption at one granularity and language. Each (item, granularity, language) has
// its own generator, so the same caption comes back however the captions are asked for.
func (d *Dataset) Caption(i int, g caption.Granularity, lang caption.Lang) (string, error) {
	s, err := d.Scene(i)
	if err != nil {
		return "", err
	}
	return d.caption(s, i, g, lang), nil
}

func (d *Dataset) caption(s world.Scene, i int, g caption.Granularity, lang caption.Lang) string {
	k := uint64(i)*uint64(caption.NumGranularities*caption.NumLangs) + uint64(g)*uint64(caption.NumLangs) + uint64(lang)
	return caption.Write(s, g, lang, d.rng(streamCaption, k))
}

// Captions is item i's captions at every granularity in both languages.
func (d *Dataset) Captions(i int) (CaptionSet, error) {
	s, err := d.Scene(i)
	if err != nil {
		return CaptionSet{}, err
	}
	var cs CaptionSet
	for g := range caption.NumGranularities {
		for l := range caption.NumLangs {
			cs.set(caption.Granularity(g), caption.Lang(l), d.caption(s, i, caption.Granularity(g), caption.Lang(l)))
		}
	}
	return cs, nil
}

// Quality is item i's quality score (Scene.Quality).
func (d *Dataset) Quality(i int) (float64, error) {
	if err := d.check(i); err != nil {
		return 0, err
	}
	d.rank()
	return d.quality[i], nil
}

func (d *Dataset) rank() {
	d.qOnce.Do(func() {
		d.quality = make([]float64, d.n)
		d.ranked = make([]int, d.n)
		for i := range d.n {
			s, _ := d.Scene(i)
			d.quality[i] = s.Quality()
			d.ranked[i] = i
		}
		slices.SortStableFunc(d.ranked, func(a, b int) int {
			qa, qb := d.quality[a], d.quality[b]
			switch {
			case qa > qb:
				return -1
			case qa < qb:
				return 1
			}
			return 0
		})
	})
}

// SubsetSize is how many items the top pct percent of n holds: ⌈n·pct/100⌉, at least one.
func SubsetSize(n int, pct float64) int {
	return max(1, int(math.Ceil(float64(n)*pct/100-1e-9)))
}

// Subset returns the indices of the top pct percent of the items by quality (ties go to the lower
// index), in increasing index order. The stages draw from Subset(100), Subset(10), Subset(1): each
// tier is contained in the one above it.
func (d *Dataset) Subset(pct float64) ([]int, error) {
	if !(pct > 0 && pct <= 100) {
		return nil, fmt.Errorf("quality subset %g%% outside (0, 100]", pct)
	}
	d.rank()
	out := slices.Clone(d.ranked[:SubsetSize(d.n, pct)])
	slices.Sort(out)
	return out, nil
}

// LangText is one caption in both languages.
type LangText struct {
	En string `json:"en"`
	Zh string `json:"zh"`
}

// CaptionSet is one item's captions at every granularity.
type CaptionSet struct {
	Detailed LangText `json:"detailed"`
	Medium   LangText `json:"medium"`
	Short    LangText `json:"short"`
	Tag      LangText `json:"tag"`
	Brief    LangText `json:"brief"`
}

func (cs *CaptionSet) slot(g caption.Granularity, l caption.Lang) *string {
	var lt *LangText
	switch g {
	case caption.Detailed:
		lt = &cs.Detailed
	case caption.Medium:
		lt = &cs.Medium
	case caption.Short:
		lt = &cs.Short
	case caption.Tag:
		lt = &cs.Tag
	case caption.Brief:
		lt = &cs.Brief
	default:
		return nil
	}
	switch l {
	case caption.En:
		return &lt.En
	case caption.Zh:
		return &lt.Zh
	}
	return nil
}

// Get is the caption at g in l ("" when either is out of range or the caption is absent).
func (cs CaptionSet) Get(g caption.Granularity, l caption.Lang) string {
	if p := cs.slot(g, l); p != nil {
		return *p
	}
	return ""
}

func (cs *CaptionSet) set(g caption.Granularity, l caption.Lang, s string) {
	if p := cs.slot(g, l); p != nil {
		*p = s
	}
}

// IsZero reports whether no caption is set.
func (cs CaptionSet) IsZero() bool { return cs == CaptionSet{} }
