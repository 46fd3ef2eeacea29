package toyeval

import (
	"image"
	"math"
	"slices"
	"sort"

	"github.com/lumina-workbench/lumina/data/internal/raster"
	"github.com/lumina-workbench/lumina/data/world"
)

// Parse reads a scene back from pixels alone: the background, and every object's shape, colour, size
// and centre. Domain and Degradation are left zero. It is the judge of generated images, so it is built
// to survive what a small model draws: colours that drift from the palette (each object's colour is the
// palette colour nearest its robust mean), soft edges (coverage is measured, not thresholded, and the
// shape features are moments that a blur changes little), and stray specks or thin strokes (dropped by
// size and thickness). The result may hold no objects, or more than MaxObjects; it is not validated.
//
// How: the background is the median of the border; a pixel is foreground when it is at least half way
// from the background towards some palette colour (so a half-covered edge pixel counts, a thin grey mark
// does not); 8-connected components of the foreground are the candidate objects. For each, the colour
// gives a per-pixel coverage α (the pixel's projection onto the line from the local background to the
// object's colour), and the α-weighted moments give area, centroid and shape: an apex-up triangle has
// its mass skewed to the bottom; a square, unlike a disc, is separable in x and y, which shows in the
// joint fourth cumulant. Both features, and the area, are unchanged by a Gaussian blur.
func Parse(img image.Image) world.Scene {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 4 || h < 4 {
		return world.Scene{}
	}
	c := raster.FromImage(img)
	bg, noise := borderStats(c)
	var s world.Scene
	if raster.Dist(bg, raster.RGB(world.Gray.RGB())) < raster.Dist(bg, raster.RGB(world.Black.RGB())) {
		s.Background = world.Gray
	}
	if noise > maxNoise {
		return s
	}
	m := float64(min(w, h))
	if noise > 6 {
		// Heavy pixel noise would break the foreground into specks; a light blur costs a little shape
		// detail and buys back whole objects.
		c = raster.Blur(c, math.Max(0.8, m/40))
	}

	n := w * h
	fg := make([]bool, n)
	for i := 0; i < n; i++ {
		p := [3]float64{float64(c.Pix[3*i]), float64(c.Pix[3*i+1]), float64(c.Pix[3*i+2])}
		fg[i] = isForeground(p, bg)
	}
	labels, comps := components(fg, w, h)

	// Thresholds relative to the smallest object the world draws (a small triangle, half of (0.2 m)²).
	minArea := math.Max(2, 0.3*0.5*(0.2*m)*(0.2*m))
	needCore := m >= 24
	keep := make([]bool, len(comps))
	for k, comp := range comps {
		if float64(len(comp)) < minArea {
			continue
		}
		if needCore && !hasCore(comp, fg, w, h) {
			continue
		}
		keep[k] = true
	}
	// Grow each kept component by a ring so soft edges below the half-way threshold still count towards
	// its coverage; a ring pixel next to two components belongs to neither.
	ringR := max(3, int(math.Round(3*m/32)))
	owner := make([]int32, n)
	for i := range owner {
		owner[i] = -1
		if l := labels[i]; l >= 0 && keep[l] {
			owner[i] = l
		}
	}
	growOwners(owner, fg, w, h, ringR)

	for k, comp := range comps {
		if !keep[k] {
			continue
		}
		o, ok := measure(c, comp, int32(k), owner, labels, bg, ringR, w, h)
		if ok {
			s.Objects = append(s.Objects, o)
		}
	}
	sort.SliceStable(s.Objects, func(i, j int) bool {
		ci, cj := s.Objects[i].Cell(), s.Objects[j].Cell()
		if ci != cj {
			return ci < cj
		}
		return s.Objects[i].X < s.Objects[j].X
	})
	return s
}

// maxNoise is the most pixel noise (borderStats's estimate) an image may have and still be parsed: above
// it there is no background to find objects against, and the scene is empty. The world's heaviest
// degradation measures up to about 54 (a 16 px image, where the frame is short); uniform noise measures
// about 78 and an untrained model's output 80–100. Without the cut, a blur of such noise at 16 px parses
// as blobs that pass a third of the prompts.
const maxNoise = 64

// borderStats is the per-channel median of the one-pixel frame (objects rarely cover most of it) and a
// robust estimate of the pixel noise there (1.4826 × the median absolute deviation).
func borderStats(c *raster.Canvas) (bg [3]float64, noise float64) {
	var idx []int
	for x := 0; x < c.W; x++ {
		idx = append(idx, x, (c.H-1)*c.W+x)
	}
	for y := 1; y < c.H-1; y++ {
		idx = append(idx, y*c.W, y*c.W+c.W-1)
	}
	vals := make([]float64, len(idx))
	for ch := 0; ch < 3; ch++ {
		for k, i := range idx {
			vals[k] = float64(c.Pix[3*i+ch])
		}
		bg[ch] = median(vals)
	}
	// Noise from differences between neighbouring frame pixels along the top and bottom rows, so a
	// smooth background gradient does not count as noise.
	var diffs []float64
	for _, y := range []int{0, c.H - 1} {
		for x := 1; x < c.W; x++ {
			i, j := y*c.W+x, y*c.W+x-1
			for ch := 0; ch < 3; ch++ {
				diffs = append(diffs, math.Abs(float64(c.Pix[3*i+ch]-c.Pix[3*j+ch])))
			}
		}
	}
	// A difference of two noisy pixels has √2 times the noise.
	noise = 1.4826 * median(diffs) / math.Sqrt2
	return bg, noise
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// paletteDirs are the palette colours as floats, used per pixel.
var paletteRGB = func() [world.NumColours][3]float64 {
	var p [world.NumColours][3]float64
	for i := range p {
		p[i] = raster.RGB(world.Colour(i).RGB())
	}
	return p
}()

// isForeground: among the palette colours, take the one whose line from the background passes closest
// to the pixel; the pixel is foreground when it lies at least half way along that line and not far off
// it. Half way is where an anti-aliased edge pixel is half covered, so components keep their true size.
func isForeground(p, bg [3]float64) bool {
	d := [3]float64{p[0] - bg[0], p[1] - bg[1], p[2] - bg[2]}
	bestRes, bestA, bestLen := math.Inf(1), 0.0, 0.0
	for _, pc := range paletteRGB {
		v := [3]float64{pc[0] - bg[0], pc[1] - bg[1], pc[2] - bg[2]}
		vv := v[0]*v[0] + v[1]*v[1] + v[2]*v[2]
		if vv < 1 {
			continue
		}
		a := (d[0]*v[0] + d[1]*v[1] + d[2]*v[2]) / vv
		if a <= 0 {
			continue
		}
		r0, r1, r2 := d[0]-a*v[0], d[1]-a*v[1], d[2]-a*v[2]
		res := r0*r0 + r1*r1 + r2*r2
		if res < bestRes {
			bestRes, bestA, bestLen = res, a, math.Sqrt(vv)
		}
	}
	return bestA >= 0.5 && math.Sqrt(bestRes) <= 0.6*bestLen
}

// components labels 8-connected foreground regions; labels[i] is -1 for background.
func components(fg []bool, w, h int) ([]int32, [][]int) {
	labels := make([]int32, len(fg))
	for i := range labels {
		labels[i] = -1
	}
	var comps [][]int
	var stack []int
	for start := range fg {
		if !fg[start] || labels[start] >= 0 {
			continue
		}
		l := int32(len(comps))
		var comp []int
		labels[start] = l
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, i)
			neighbours(i, w, h, func(j int) {
				if fg[j] && labels[j] < 0 {
					labels[j] = l
					stack = append(stack, j)
				}
			})
		}
		comps = append(comps, comp)
	}
	return labels, comps
}

// hasCore reports whether some pixel of the component has its whole 3×3 neighbourhood in the
// foreground (pixels beyond the image edge count as foreground, for clipped objects): thin strokes have
// none, objects do.
func hasCore(comp []int, fg []bool, w, h int) bool {
	for _, i := range comp {
		x, y := i%w, i/w
		ok := true
		for dy := -1; dy <= 1 && ok; dy++ {
			for dx := -1; dx <= 1; dx++ {
				xx, yy := x+dx, y+dy
				if xx < 0 || yy < 0 || xx >= w || yy >= h {
					continue
				}
				if !fg[yy*w+xx] {
					ok = false
					break
				}
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// growOwners grows each owned region by up to r pixels (8-neighbour steps) into background that is
// not foreground, breadth first so that the cost does not grow with r. A pixel reached at the same step
// by two owners gets -2 (contested), is used by none and grows no further.
func growOwners(owner []int32, fg []bool, w, h, r int) {
	dist := make([]int32, len(owner))
	queue := make([]int, 0, len(owner))
	for i, o := range owner {
		if o >= 0 {
			queue = append(queue, i)
		} else {
			dist[i] = -1
		}
	}
	for head := 0; head < len(queue); head++ {
		i := queue[head]
		o, d := owner[i], dist[i]
		if o < 0 || int(d) >= r {
			continue
		}
		neighbours(i, w, h, func(j int) {
			switch {
			case fg[j]:
			case dist[j] < 0:
				dist[j], owner[j] = d+1, o
				queue = append(queue, j)
			case dist[j] == d+1 && owner[j] != o:
				owner[j] = -2
			}
		})
	}
}

// neighbours calls visit with every pixel of the 3×3 block around pixel i of a w×h image (i itself
// included) that lies inside the image, row by row.
func neighbours(i, w, h int, visit func(j int)) {
	x, y := i%w, i/w
	for yy := max(y-1, 0); yy <= min(y+1, h-1); yy++ {
		for xx := max(x-1, 0); xx <= min(x+1, w-1); xx++ {
			visit(yy*w + xx)
		}
	}
}

// Size-class boundaries on the measured extent (fraction of the shorter side): geometric midpoints of
// 0.2, 0.3 and 0.45.
var sizeBounds = [2]float64{math.Sqrt(0.2 * 0.3), math.Sqrt(0.3 * 0.45)}

// Shape decision thresholds, half way between the shapes' exact values (see moments.shape).
const (
	// κ₃(y)/A^1.5: an apex-up triangle of side e has κ₃ = −e³/135 and A = e²/2, so −2^1.5/135 ≈ −0.0210;
	// discs and squares 0.
	triangleSkew = -0.0105
	// κ(x,x,y,y)/A²: a square is separable, so 0; a disc of radius r has −r⁴/48 over (πr²)², −1/(48π²).
	discCorner = -0.5 / (48 * math.Pi * math.Pi)
)

// ringFloor is the least coverage a pixel outside the component's foreground needs to count.
const ringFloor = 0.08

// measure reads one component's colour, coverage moments, shape, size and centre.
func measure(c *raster.Canvas, comp []int, k int32, owner, labels []int32, bg [3]float64, ringR, w, h int) (world.Object, bool) {
	box := boundsOf(comp, w, h)
	mean := robustColour(c, comp, bg)
	lbg := localBackground(c, box.grow(ringR+3, w, h), owner, labels, bg)
	col := unmixedColour(mean, lbg)
	full, ok := fullCoverage(mean, lbg, col)
	if !ok {
		return world.Object{}, false
	}
	m, ok := coverageMoments(c, box.grow(ringR, w, h), k, owner, labels, lbg, full)
	if !ok {
		return world.Object{}, false
	}
	shape := m.shape()
	e := m.extent(shape)
	cy := m.my
	if shape == world.Triangle {
		// The centroid of an apex-up triangle sits e/6 below the centre of its box.
		cy -= e / 6
	}
	return world.Object{
		Shape:  shape,
		Colour: col,
		Size:   sizeClass(e / float64(min(w, h))),
		X:      min(max(m.mx/float64(w), 0), 1),
		Y:      min(max(cy/float64(h), 0), 1),
	}, true
}

// box is a pixel rectangle, both corners included.
type box struct{ x0, y0, x1, y1 int }

// boundsOf is the bounding box of a component's pixels.
func boundsOf(comp []int, w, h int) box {
	b := box{w, h, -1, -1}
	for _, i := range comp {
		x, y := i%w, i/w
		b = box{min(b.x0, x), min(b.y0, y), max(b.x1, x), max(b.y1, y)}
	}
	return b
}

// grow widens b by r pixels on every side, clipped to the w×h image.
func (b box) grow(r, w, h int) box {
	return box{max(b.x0-r, 0), max(b.y0-r, 0), min(b.x1+r, w-1), min(b.y1+r, h-1)}
}

// robustColour is the mean of the component's most saturated pixels (at least 0.75 of the way to its
// 90th-percentile distance from the background), which skips blurred rims and shading lows.
func robustColour(c *raster.Canvas, comp []int, bg [3]float64) [3]float64 {
	dists := make([]float64, len(comp))
	for j, i := range comp {
		dists[j] = raster.Dist(pixAt(c, i), bg)
	}
	sorted := slices.Clone(dists)
	slices.Sort(sorted)
	cut := 0.75 * sorted[int(0.9*float64(len(sorted)-1))]
	var mean [3]float64
	nm := 0
	for j, i := range comp {
		if dists[j] >= cut {
			p := pixAt(c, i)
			for ch := range mean {
				mean[ch] += p[ch]
			}
			nm++
		}
	}
	for ch := range mean {
		mean[ch] /= float64(nm)
	}
	return mean
}

// localBackground is the median of the unowned background pixels in area, the surroundings of a
// component: it follows a "photo" gradient better than the global frame median bg, which stands in
// when there are too few of them.
func localBackground(c *raster.Canvas, area box, owner, labels []int32, bg [3]float64) [3]float64 {
	var ring [3][]float64
	for y := area.y0; y <= area.y1; y++ {
		for x := area.x0; x <= area.x1; x++ {
			i := y*c.W + x
			if owner[i] == -1 && labels[i] < 0 {
				p := pixAt(c, i)
				for ch := range ring {
					ring[ch] = append(ring[ch], p[ch])
				}
			}
		}
	}
	lbg := bg
	if len(ring[0]) >= 6 {
		for ch := range lbg {
			lbg[ch] = median(ring[ch])
		}
	}
	return lbg
}

// fullCoverage is the step from the local background lbg that a fully covered pixel of colour col
// shows: the palette colour's step, lengthened when the component's mean colour goes further (a
// brighter drawing). false when col is too close to the background to measure coverage against.
func fullCoverage(mean, lbg [3]float64, col world.Colour) ([3]float64, bool) {
	v := [3]float64{mean[0] - lbg[0], mean[1] - lbg[1], mean[2] - lbg[2]}
	pc := paletteRGB[col]
	vp := [3]float64{pc[0] - lbg[0], pc[1] - lbg[1], pc[2] - lbg[2]}
	vpp := vp[0]*vp[0] + vp[1]*vp[1] + vp[2]*vp[2]
	if vpp < 1 {
		return [3]float64{}, false
	}
	am := (v[0]*vp[0] + v[1]*vp[1] + v[2]*vp[2]) / vpp
	sc := math.Max(am, 1)
	return [3]float64{vp[0] * sc, vp[1] * sc, vp[2] * sc}, true
}

// moments are a component's coverage-weighted moments: the area (the total coverage α), the centroid,
// and the central moments the shape needs, each divided by the area.
type moments struct {
	area, mx, my            float64
	m20, m02, m11, m22, m03 float64
}

// coverageMoments measures component k over area, which holds it and its ring: each owned pixel's
// coverage α is its projection onto the step v from the local background lbg. false when nothing is
// covered.
func coverageMoments(c *raster.Canvas, area box, k int32, owner, labels []int32, lbg, v [3]float64) (moments, bool) {
	vv := v[0]*v[0] + v[1]*v[1] + v[2]*v[2]
	var A, sx, sy float64
	type wpt struct{ x, y, a float64 }
	pts := make([]wpt, 0, (area.x1-area.x0+1)*(area.y1-area.y0+1))
	for y := area.y0; y <= area.y1; y++ {
		for x := area.x0; x <= area.x1; x++ {
			i := y*c.W + x
			if owner[i] != k {
				continue
			}
			p := pixAt(c, i)
			a := ((p[0]-lbg[0])*v[0] + (p[1]-lbg[1])*v[1] + (p[2]-lbg[2])*v[2]) / vv
			// Clamped, and in the ring only clear coverage counts: the moments weigh far pixels by up to
			// the fourth power of their distance, so background texture there must not add up.
			a = math.Min(a, 1.2)
			if a <= 0 || (labels[i] != k && a < ringFloor) {
				continue
			}
			px, py := float64(x)+0.5, float64(y)+0.5
			pts = append(pts, wpt{px, py, a})
			A += a
			sx += a * px
			sy += a * py
		}
	}
	if A <= 0 {
		return moments{}, false
	}
	m := moments{area: A, mx: sx / A, my: sy / A}
	for _, p := range pts {
		dx, dy := p.x-m.mx, p.y-m.my
		m.m20 += p.a * dx * dx
		m.m02 += p.a * dy * dy
		m.m11 += p.a * dx * dy
		m.m22 += p.a * dx * dx * dy * dy
		m.m03 += p.a * dy * dy * dy
	}
	m.m20, m.m02, m.m11, m.m22, m.m03 = m.m20/A, m.m02/A, m.m11/A, m.m22/A, m.m03/A
	return m, true
}

// shape tells the shapes apart by cumulants of the coverage, scaled by the area: a Gaussian blur (or
// the pixel grid's own box filter) adds independent symmetric noise in x and y, which changes neither
// the third cumulant in y nor the joint fourth cumulant κ(x,x,y,y) = E[x²y²] − E[x²]E[y²] − 2E[xy]²,
// and keeps the area.
func (m moments) shape() world.Shape {
	skew := m.m03 / math.Pow(m.area, 1.5)
	corner := (m.m22 - m.m20*m.m02 - 2*m.m11*m.m11) / (m.area * m.area)
	switch {
	case skew < triangleSkew:
		return world.Triangle
	case corner > discCorner:
		return world.Square
	}
	return world.Circle
}

// extent is the side of the shape's box in pixels, from the coverage area, which a blur leaves
// unchanged.
func (m moments) extent(shape world.Shape) float64 {
	switch shape {
	case world.Circle:
		return math.Sqrt(4 * m.area / math.Pi)
	case world.Square:
		return math.Sqrt(m.area)
	}
	return math.Sqrt(2 * m.area)
}

// sizeClass is the size of an object whose extent is frac of the image's shorter side.
func sizeClass(frac float64) world.Size {
	switch {
	case frac >= sizeBounds[1]:
		return world.Large
	case frac >= sizeBounds[0]:
		return world.Medium
	}
	return world.Small
}

func pixAt(c *raster.Canvas, i int) [3]float64 {
	return [3]float64{float64(c.Pix[3*i]), float64(c.Pix[3*i+1]), float64(c.Pix[3*i+2])}
}

// unmixedColour is the palette colour nearest p once p is allowed to be that colour partly mixed with
// the background bg (a blurred or anti-aliased small object never reaches its full colour) or a little
// brighter: the distance from p to the segment bg + a·(c − bg), a in [0.5, 1.15]. On a pure palette
// colour it agrees with the plain nearest colour.
func unmixedColour(p, bg [3]float64) world.Colour {
	best, bestD := world.Colour(0), math.Inf(1)
	d := [3]float64{p[0] - bg[0], p[1] - bg[1], p[2] - bg[2]}
	for i, pc := range paletteRGB {
		v := [3]float64{pc[0] - bg[0], pc[1] - bg[1], pc[2] - bg[2]}
		vv := v[0]*v[0] + v[1]*v[1] + v[2]*v[2]
		if vv < 1 {
			continue
		}
		a := min(max((d[0]*v[0]+d[1]*v[1]+d[2]*v[2])/vv, 0.5), 1.15)
		r0, r1, r2 := d[0]-a*v[0], d[1]-a*v[1], d[2]-a*v[2]
		if dd := r0*r0 + r1*r1 + r2*r2; dd < bestD {
			best, bestD = world.Colour(i), dd
		}
	}
	return best
}
