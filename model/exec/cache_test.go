package exec

import (
	"errors"
	"slices"
	"testing"
)

// The cache keeps the Max most recently used graphs, closes the least recently used one when a new
// key needs room, builds nothing it has, keeps nothing a failed build returned, and closes all on Clear.
func TestGraphCache(t *testing.T) {
	var closed []int
	built := 0
	c := GraphCache[int, int]{Max: 2, Close: func(v int) { closed = append(closed, v) }}
	get := func(k int) {
		t.Helper()
		v, err := c.Get(k, func() (int, error) { built++; return k * 10, nil })
		if err != nil || v != k*10 {
			t.Fatalf("Get(%d) = %d, %v", k, v, err)
		}
	}
	keys := func() []int {
		var ks []int
		for k := range c.All() {
			ks = append(ks, k)
		}
		return ks
	}
	get(1)
	get(2)
	get(1) // 1 becomes the most recently used: 2 goes first
	get(3)
	if !slices.Equal(closed, []int{20}) || !slices.Equal(keys(), []int{1, 3}) || built != 3 {
		t.Fatalf("after 1 2 1 3 with room for 2: closed %v, kept %v, built %d", closed, keys(), built)
	}
	if _, err := c.Get(4, func() (int, error) { return 0, errors.New("no") }); err == nil || c.Len() != 2 {
		t.Fatalf("a failed build: %v, %d kept", err, c.Len())
	}
	c.Clear()
	if !slices.Equal(closed, []int{20, 10, 30}) || c.Len() != 0 {
		t.Fatalf("after Clear: closed %v, %d kept", closed, c.Len())
	}
}
