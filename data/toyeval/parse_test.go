package toyeval

import (
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lumina-workbench/lumina/data/world"
)

// parseScore accumulates the parser's agreement with the scenes it was given.
type parseScore struct {
	scenes, countOK, coloursOK int
	objects, shapeOK, cellOK   int
	sizeOK                     int
	confusion                  [world.NumShapes][world.NumShapes + 1]int // truth × parsed (last column: unmatched)
}

// add matches parsed objects to true ones by the assignment with the smallest total centre distance
// (scenes hold at most four objects, so every assignment is tried) and scores each true object against
// its match; a true object left without a match scores as wrong.
func (p *parseScore) add(truth, got world.Scene) {
	p.scenes++
	if len(truth.Objects) == len(got.Objects) {
		p.countOK++
	}
	tc, gc := coloursOf(truth), coloursOf(got)
	if slices.Equal(tc, gc) {
		p.coloursOK++
	}
	match := bestAssignment(truth.Objects, got.Objects)
	for i, o := range truth.Objects {
		p.objects++
		j := match[i]
		if j < 0 {
			p.confusion[o.Shape][world.NumShapes]++
			continue
		}
		g := got.Objects[j]
		p.confusion[o.Shape][g.Shape]++
		if g.Shape == o.Shape {
			p.shapeOK++
		}
		if g.Cell() == o.Cell() {
			p.cellOK++
		}
		if g.Size == o.Size {
			p.sizeOK++
		}
	}
}

func coloursOf(s world.Scene) []world.Colour {
	c := make([]world.Colour, len(s.Objects))
	for i, o := range s.Objects {
		c[i] = o.Colour
	}
	slices.Sort(c)
	return c
}

func bestAssignment(truth, got []world.Object) []int {
	best := make([]int, len(truth))
	for i := range best {
		best[i] = -1
	}
	bestCost := math.Inf(1)
	cur := make([]int, len(truth))
	used := make([]bool, len(got))
	var rec func(i int, cost float64, matched int)
	bestMatched := -1
	rec = func(i int, cost float64, matched int) {
		if i == len(truth) {
			if matched > bestMatched || (matched == bestMatched && cost < bestCost) {
				bestMatched, bestCost = matched, cost
				copy(best, cur)
			}
			return
		}
		for j := range got {
			if !used[j] {
				used[j] = true
				cur[i] = j
				rec(i+1, cost+math.Hypot(truth[i].X-got[j].X, truth[i].Y-got[j].Y), matched+1)
				used[j] = false
			}
		}
		cur[i] = -1
		rec(i+1, cost, matched)
	}
	rec(0, 0, 0)
	return best
}

func (p *parseScore) rates() (count, colours, shape, cell, size float64) {
	s, o := float64(p.scenes), float64(p.objects)
	return float64(p.countOK) / s, float64(p.coloursOK) / s, float64(p.shapeOK) / o, float64(p.cellOK) / o, float64(p.sizeOK) / o
}

func (p *parseScore) log(t *testing.T, name string) {
	t.Helper()
	count, colours, shape, cell, size := p.rates()
	t.Logf("%-34s scenes %4d objects %4d | count %.3f colours %.3f | shape %.3f cell %.3f size %.3f | shape confusion (rows truth circle/square/triangle, cols parsed + missed) %v",
		name, p.scenes, p.objects, count, colours, shape, cell, size, p.confusion)
}

func TestParseRecoversSimpleScenes(t *testing.T) {
	for _, n := range []int{16, 32, 48, 96} {
		for shape := world.Shape(0); int(shape) < world.NumShapes; shape++ {
			for col := world.Colour(0); int(col) < world.NumColours; col++ {
				for bg := world.Background(0); int(bg) < world.NumBackgrounds; bg++ {
					for size := world.Size(0); int(size) < world.NumSizes; size++ {
						s := world.Scene{Background: bg, Objects: []world.Object{{Shape: shape, Colour: col, Size: size, X: 0.55, Y: 0.45}}}
						img, err := world.Render(s, n, n)
						if err != nil {
							t.Fatal(err)
						}
						got := Parse(img)
						if got.Background != bg || len(got.Objects) != 1 {
							t.Fatalf("%d px %+v: parsed %+v", n, s, got)
						}
						o := got.Objects[0]
						if o.Colour != col || o.Shape != shape || o.Size != size || math.Abs(o.X-0.55) > 1/float64(n)+0.005 || math.Abs(o.Y-0.45) > 1/float64(n)+0.005 {
							if n >= 32 || o.Colour != col || o.Shape != shape {
								t.Errorf("%d px, %s: parsed %+v, want %+v", n, bg, o, s.Objects[0])
							}
						}
					}
				}
			}
		}
	}
}

func TestParseEmptyAndTiny(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	if s := Parse(img); len(s.Objects) != 0 || s.Background != world.Black {
		t.Errorf("blank image parsed as %+v", s)
	}
	if s := Parse(image.NewRGBA(image.Rect(0, 0, 2, 2))); len(s.Objects) != 0 {
		t.Errorf("2×2 image parsed as %+v", s)
	}
	// A non-RGBA image with an offset origin goes through the generic path.
	s := world.Scene{Background: world.Gray, Objects: []world.Object{{Shape: world.Square, Colour: world.Cyan, Size: world.Large, X: 0.3, Y: 0.7}}}
	rgba, _ := world.Render(s, 40, 40)
	nrgba := image.NewNRGBA(image.Rect(5, 7, 45, 47))
	for y := 0; y < 40; y++ {
		for x := 0; x < 40; x++ {
			nrgba.Set(x+5, y+7, rgba.At(x, y))
		}
	}
	got := Parse(nrgba)
	if len(got.Objects) != 1 || got.Objects[0].Shape != world.Square || got.Objects[0].Colour != world.Cyan || got.Objects[0].Cell() != 6 {
		t.Errorf("offset NRGBA parsed as %+v", got)
	}
}

// TestParseAccuracy is the parser's acceptance test: 2000 random clean 32×32 scenes, half flat, half
// photo. It also logs the figures on degraded scenes (quality < 0.5) and after a σ = 1 px blur.
func TestParseAccuracy(t *testing.T) {
	const n = 2000
	cfg := world.DefaultSamplerConfig()
	cfg.PhotoFrac = 0.5
	cfg.DegradeFrac = 0
	rng := rand.New(rand.NewPCG(2024, 1))
	var clean, flat, photo, blurred parseScore
	for i := 0; i < n; i++ {
		s := world.SampleScene(rng, cfg)
		img, err := world.Render(s, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		got := Parse(img)
		clean.add(s, got)
		if s.Domain == world.Flat {
			flat.add(s, got)
		} else {
			photo.add(s, got)
		}
		blurred.add(s, Parse(world.GaussianBlur(img, 1)))
	}
	// Colour drift as a model might draw it: each image's channels scaled and shifted by up to ±15%
	// and ±20 levels, logged only.
	drng := rand.New(rand.NewPCG(77, 1))
	var drift parseScore
	for i := 0; i < 500; i++ {
		s := world.SampleScene(drng, cfg)
		img, _ := world.Render(s, 32, 32)
		var gain, off [3]float64
		for ch := range gain {
			gain[ch] = 1 + 0.3*(drng.Float64()-0.5)
			off[ch] = 40 * (drng.Float64() - 0.5)
		}
		for j := range img.Pix {
			if ch := j % 4; ch < 3 {
				img.Pix[j] = uint8(min(max(float64(img.Pix[j])*gain[ch]+off[ch], 0), 255))
			}
		}
		drift.add(s, Parse(world.GaussianBlur(img, 0.7)))
	}

	clean.log(t, "clean 32×32 (flat + photo)")
	flat.log(t, "  flat")
	photo.log(t, "  photo")
	blurred.log(t, "clean + σ=1 px blur")
	drift.log(t, "colour drift + σ=0.7 px blur")

	count, colours, shape, cell, _ := clean.rates()
	if count < 0.99 || colours < 0.99 {
		t.Errorf("object count %.4f and colour multiset %.4f: want both ≥ 0.99", count, colours)
	}
	if shape < 0.97 || cell < 0.97 {
		t.Errorf("shape %.4f and cell %.4f per object: want both ≥ 0.97", shape, cell)
	}

	// Degraded scenes: only figures, no thresholds (degradation is meant to lose information).
	dcfg := cfg
	dcfg.DegradeFrac = 1
	var degraded parseScore
	for degraded.scenes < 1000 {
		s := world.SampleScene(rng, dcfg)
		if s.Quality() >= 0.5 {
			continue
		}
		img, err := world.Render(s, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		degraded.add(s, Parse(img))
	}
	degraded.log(t, "degraded 32×32 (quality < 0.5)")

	// Other resolutions, clean: logged for the progressive stages.
	for _, side := range []int{16, 64} {
		var sc parseScore
		for i := 0; i < 300; i++ {
			s := world.SampleScene(rng, cfg)
			img, _ := world.Render(s, side, side)
			sc.add(s, Parse(img))
		}
		sc.log(t, map[int]string{16: "clean 16×16", 64: "clean 64×64"}[side])
	}
}

// TestParseCanFail guards the accuracy test itself: the scorer must notice a parser that gets things
// wrong, or the thresholds above would prove nothing.
func TestParseCanFail(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var flipped, dropped, recoloured parseScore
	for i := 0; i < 200; i++ {
		s := world.SampleScene(rng, world.DefaultSamplerConfig())
		wrong := world.Scene{Objects: slices.Clone(s.Objects)}
		for j := range wrong.Objects {
			wrong.Objects[j].Shape = (wrong.Objects[j].Shape + 1) % world.Shape(world.NumShapes)
		}
		flipped.add(s, wrong)
		dropped.add(s, world.Scene{Objects: s.Objects[:len(s.Objects)-1]})
		wrong = world.Scene{Objects: slices.Clone(s.Objects)}
		wrong.Objects[0].Colour = (wrong.Objects[0].Colour + 1) % world.Colour(world.NumColours)
		recoloured.add(s, wrong)
	}
	if _, _, shape, cell, _ := flipped.rates(); shape != 0 || cell != 1 {
		t.Errorf("every shape flipped: scored shape %.3f, cell %.3f; want 0 and 1", shape, cell)
	}
	if count, colours, _, _, _ := dropped.rates(); count != 0 || colours != 0 {
		t.Errorf("one object dropped: scored count %.3f, colours %.3f; want 0", count, colours)
	}
	if count, colours, _, _, _ := recoloured.rates(); count != 1 || colours != 0 {
		t.Errorf("one object recoloured: scored count %.3f, colours %.3f; want 1 and 0", count, colours)
	}
}

func TestParseSurvivesJunk(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for i := 0; i < 50; i++ {
		w, h := 1+rng.IntN(80), 1+rng.IntN(80)
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		switch i % 3 {
		case 0: // pure noise
			for j := range img.Pix {
				img.Pix[j] = uint8(rng.IntN(256))
			}
		case 1: // one flat colour, including palette colours and white
			v := [3]uint8{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))}
			for j := range img.Pix {
				img.Pix[j] = v[j%4%3]
			}
		}
		s := Parse(img)
		for _, o := range s.Objects {
			if o.X < 0 || o.X > 1 || o.Y < 0 || o.Y > 1 || int(o.Shape) >= world.NumShapes || int(o.Colour) >= world.NumColours || int(o.Size) >= world.NumSizes {
				t.Fatalf("%d×%d junk image: object out of range %+v", w, h, o)
			}
		}
	}
}

// Pure noise is no scene: at 16 px a blurred noise field would otherwise parse as blobs, and the judge
// would pass a third of the prompts for an untrained model. The world's own heavy noise still parses.
func TestNoiseIsNoScene(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	prompts, err := Suite("quick")
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range []int{16, 32, 64} {
		var score float64
		for _, p := range prompts {
			img := image.NewRGBA(image.Rect(0, 0, res, res))
			for j := range img.Pix {
				img.Pix[j] = uint8(rng.IntN(256))
			}
			if s := Parse(img); len(s.Objects) != 0 {
				t.Errorf("%d px uniform noise parses as %d objects", res, len(s.Objects))
			}
			score += ScoreImage(p, img)
		}
		if score != 0 {
			t.Errorf("%d px uniform noise scores %g over the quick suite, want 0", res, score)
		}
	}
	cfg := world.DefaultSamplerConfig()
	cfg.DegradeFrac = 1
	heavy, parsed := 0, 0
	for i := 0; i < 300; i++ {
		s := world.SampleScene(rng, cfg)
		if s.Degradation.Noise < 0.8 || len(s.Objects) == 0 {
			continue
		}
		img, err := world.Render(s, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		heavy++
		if len(Parse(img).Objects) > 0 {
			parsed++
		}
	}
	if heavy < 10 || parsed < heavy*9/10 {
		t.Errorf("the world's heaviest noise: %d of %d scenes parse to objects, want at least 90%%", parsed, heavy)
	}
}
