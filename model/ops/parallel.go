package ops

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallel calls fn on the blocks [lo, hi) of [0, n), block items each (the last may be shorter), spread
// over GOMAXPROCS goroutines (the caller's included). The blocks depend only on n and block, never on the
// core count, so a kernel that reduces per block and then sums the blocks in order gives bit-identical
// results on any machine.
func parallel(n, block int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	block = max(block, 1)
	nb := (n + block - 1) / block
	workers := min(runtime.GOMAXPROCS(0), nb)
	if workers <= 1 {
		for lo := 0; lo < n; lo += block {
			fn(lo, min(n, lo+block))
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			b := int(next.Add(1)) - 1
			if b >= nb {
				return
			}
			lo := b * block
			fn(lo, min(n, lo+block))
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// grain is the block size (in items) that gives each goroutine at least about minWork units of work
// (≈ flops) per block, given the work of one item, while cutting n into at most maxBlocks blocks when
// there is plenty of work.
func grain(n, perItem int) int {
	const minWork = 1 << 15
	const maxBlocks = 64
	b := max(1, minWork/max(perItem, 1))
	return max(b, (n+maxBlocks-1)/maxBlocks)
}

// numBlocks is how many blocks parallel makes of n items.
func numBlocks(n, block int) int {
	if n <= 0 {
		return 0
	}
	return (n + block - 1) / block
}
