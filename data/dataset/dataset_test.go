package dataset

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/world"
)

func mustDataset(t testing.TB, seed uint64, n int) *Dataset {
	t.Helper()
	d, err := New(seed, n, world.DefaultSamplerConfig())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDatasetDeterministic(t *testing.T) {
	a, b := mustDataset(t, 42, 200), mustDataset(t, 42, 200)
	// An item does not depend on the dataset's size: the first items of a bigger dataset are the same.
	big := mustDataset(t, 42, 5000)
	other := mustDataset(t, 43, 200)
	same := 0
	for _, i := range []int{0, 1, 17, 199} {
		sa, _ := a.Scene(i)
		sb, _ := b.Scene(i)
		sg, _ := big.Scene(i)
		so, _ := other.Scene(i)
		if !reflect.DeepEqual(sa, sb) || !reflect.DeepEqual(sa, sg) {
			t.Errorf("item %d differs between equal datasets", i)
		}
		if reflect.DeepEqual(sa, so) {
			same++
		}
		ia, err := a.Image(i, 32, 48)
		if err != nil {
			t.Fatal(err)
		}
		ib, _ := b.Image(i, 32, 48)
		if !bytes.Equal(ia.Pix, ib.Pix) || ia.Rect.Dx() != 32 || ia.Rect.Dy() != 48 {
			t.Errorf("item %d renders differently", i)
		}
		ca, err := a.Captions(i)
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := b.Captions(i)
		if ca != cb {
			t.Errorf("item %d captions differ", i)
		}
		// Asking one caption gives the same as asking them all; every slot is filled.
		for g := range caption.NumGranularities {
			for l := range caption.NumLangs {
				c, err := a.Caption(i, caption.Granularity(g), caption.Lang(l))
				if err != nil || c != ca.Get(caption.Granularity(g), caption.Lang(l)) || c == "" {
					t.Errorf("item %d %v/%v: %q vs %q (%v)", i, caption.Granularity(g), caption.Lang(l), c, ca.Get(caption.Granularity(g), caption.Lang(l)), err)
				}
			}
		}
		if ca.Detailed.En == ca.Detailed.Zh || ca.Detailed.En == ca.Tag.En {
			t.Errorf("item %d: captions do not vary by language and granularity: %+v", i, ca)
		}
	}
	if same == 4 {
		t.Error("a different seed gave the same items")
	}
}

func TestDatasetSubsets(t *testing.T) {
	for _, n := range []int{1000, 57, 1} {
		d := mustDataset(t, 9, n)
		prev := []int(nil)
		for _, pct := range []float64{100, 10, 1} {
			idx, err := d.Subset(pct)
			if err != nil {
				t.Fatal(err)
			}
			// ⌈n·pct/100⌉ by hand: 1000 → 1000, 100, 10; 57 → 57, 6, 1; 1 → 1, 1, 1.
			want := map[int][3]int{1000: {1000, 100, 10}, 57: {57, 6, 1}, 1: {1, 1, 1}}[n]
			k := map[float64]int{100: 0, 10: 1, 1: 2}[pct]
			if len(idx) != want[k] {
				t.Errorf("n=%d top %g%%: %d items, want %d", n, pct, len(idx), want[k])
			}
			if !slices.IsSorted(idx) {
				t.Errorf("n=%d top %g%%: indices not sorted", n, pct)
			}
			for _, i := range idx {
				if prev != nil && !slices.Contains(prev, i) {
					t.Errorf("n=%d: item %d is in the %g%% tier but not the one above", n, i, pct)
				}
			}
			// Everything inside is at least as good as everything outside, by a fresh Quality computation.
			in := map[int]bool{}
			minIn := 2.0
			for _, i := range idx {
				in[i] = true
				s, _ := d.Scene(i)
				minIn = min(minIn, s.Quality())
			}
			for i := range n {
				s, _ := d.Scene(i)
				if !in[i] && s.Quality() > minIn {
					t.Errorf("n=%d top %g%%: item %d (quality %.3f) left out, but %.3f is in", n, pct, i, s.Quality(), minIn)
					break
				}
			}
			prev = idx
		}
	}
	// Most of the default world is clean, so the top 10% of 1000 is all quality 1 and the bottom is not.
	d := mustDataset(t, 9, 1000)
	idx, _ := d.Subset(10)
	for _, i := range idx {
		if q, _ := d.Quality(i); q != 1 {
			t.Fatalf("item %d in the top 10%% has quality %v", i, q)
		}
	}
	all, _ := d.Subset(100)
	low := 0
	for _, i := range all {
		if q, _ := d.Quality(i); q < 1 {
			low++
		}
	}
	if low < 100 {
		t.Errorf("only %d degraded items in 1000; the tiers would select nothing", low)
	}
}

func TestDatasetErrors(t *testing.T) {
	if _, err := New(1, 0, world.DefaultSamplerConfig()); err == nil || !strings.Contains(err.Error(), "size 0") {
		t.Errorf("n=0: %v", err)
	}
	bad := world.DefaultSamplerConfig()
	bad.MaxObjects = 9
	if _, err := New(1, 10, bad); err == nil || !strings.Contains(err.Error(), "max_objects") {
		t.Errorf("bad config: %v", err)
	}
	d := mustDataset(t, 1, 10)
	for _, i := range []int{-1, 10} {
		if _, err := d.Scene(i); err == nil || !strings.Contains(err.Error(), "outside 0..9") {
			t.Errorf("index %d: %v", i, err)
		}
		if _, err := d.Captions(i); err == nil {
			t.Errorf("captions of index %d: no error", i)
		}
	}
	if _, err := d.Image(0, 8, 8); err == nil {
		t.Error("8×8 image: no error")
	}
	for _, pct := range []float64{0, -5, 100.5} {
		if _, err := d.Subset(pct); err == nil || !strings.Contains(err.Error(), "(0, 100]") {
			t.Errorf("subset %g: %v", pct, err)
		}
	}
}
