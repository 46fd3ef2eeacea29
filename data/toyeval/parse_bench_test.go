package toyeval

import (
	"image"
	"math/rand/v2"
	"testing"

	"github.com/lumina-workbench/lumina/data/world"
)

// BenchmarkParse32 is the judge's cost per 32×32 image, on scenes of the default world (photo and
// degraded ones included, so the parser's noise filter is paid for in its usual share).
func BenchmarkParse32(b *testing.B) {
	rng := rand.New(rand.NewPCG(42, 42))
	cfg := world.DefaultSamplerConfig()
	imgs := make([]*image.RGBA, 256)
	for i := range imgs {
		img, err := world.Render(world.SampleScene(rng, cfg), 32, 32)
		if err != nil {
			b.Fatal(err)
		}
		imgs[i] = img
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Parse(imgs[i%len(imgs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
