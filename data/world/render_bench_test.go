package world

import (
	"math/rand/v2"
	"testing"
)

// benchScenes are drawn once, outside the timing, from the default world (photo and degraded scenes
// included, so noise, blur and clutter are paid for in their usual share).
func benchScenes(n int) []Scene {
	rng := rand.New(rand.NewPCG(42, 42))
	cfg := DefaultSamplerConfig()
	s := make([]Scene, n)
	for i := range s {
		s[i] = SampleScene(rng, cfg)
	}
	return s
}

// BenchmarkRender32 renders random 32×32 scenes; run with -cpu 1 for the one-core figure (target ≥ 2000
// scenes/s).
func BenchmarkRender32(b *testing.B) {
	scenes := benchScenes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Render(scenes[i%len(scenes)], 32, 32); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scenes/s")
}

// BenchmarkSampleScene is the sampler alone.
func BenchmarkSampleScene(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	cfg := DefaultSamplerConfig()
	for i := 0; i < b.N; i++ {
		SampleScene(rng, cfg)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scenes/s")
}
