//go:build unix

package ops

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time so far. On this shared 2-core machine wall-clock ns/op
// swings with everyone else's load; CPU time per op (reported as cpu-ns/op) is the steadier figure.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchAttn is the model's joint-block attention at the default training shape: batch 16, up to 48
// caption tokens (36–48 valid, the rest padding) + an 8×8 image grid = 112 tokens, 4 heads over 2 kv
// heads, hd 32.
func benchAttn[T float32 | float64](b *testing.B, backward bool) {
	const B, capLen, gh, gw, H, KV = 16, 48, 8, 8, 4, 2
	capLens := make([]int, B)
	for i := range capLens {
		capLens[i] = capLen - 4*(i%4)
	}
	c := newAttnCase(1, capLens, gh, gw, H, KV, [3]int{8, 12, 12}, false)
	s := c.s // L = 48 + 64 = 112
	conv := func(x []float64) []T {
		y := make([]T, len(x))
		for i, v := range x {
			y[i] = T(v)
		}
		return y
	}
	qkv, qw, kw, cos, sin, mask := conv(c.qkv), conv(c.qw), conv(c.kw), conv(c.cos), conv(c.sin), conv(c.mask)
	rng := rand.New(rand.NewPCG(2, 3))
	gout := make([]T, s.B*s.L*s.Heads*s.HeadDim)
	for i := range gout {
		gout[i] = T(rng.NormFloat64())
	}
	out := make([]T, len(gout))
	dqkv, dqw, dkw := make([]T, len(qkv)), make([]T, s.HeadDim), make([]T, s.HeadDim)
	var cache attnCache[T]
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		if err := attnForward(s, qkv, qw, kw, cos, sin, mask, out, &cache); err != nil {
			b.Fatal(err)
		}
		if backward {
			if err := attnBackward(s, gout, qkv, qw, kw, cos, sin, mask, &cache, dqkv, dqw, dkw); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkAttention is forward + backward in float32 at B=16, L=112, H=4, KV=2, hd=32.
func BenchmarkAttention(b *testing.B) { benchAttn[float32](b, true) }

func BenchmarkAttentionForward(b *testing.B) { benchAttn[float32](b, false) }
func BenchmarkAttentionFloat64(b *testing.B) { benchAttn[float64](b, true) }
