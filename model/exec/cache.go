package exec

import "iter"

// GraphCache keeps the Max most recently used graphs by key (a shape), closing the others: a run
// reuses the graphs of a few shapes step after step, while every graph kept costs memory (its ops'
// state, its description) and shapes can be many (one per caption length).
type GraphCache[K comparable, V any] struct {
	Max int
	// Close, when set, releases a graph the cache lets go of.
	Close func(V)
	keys  []K // least recently used first
	vals  map[K]V
}

// Get is the graph for k, built by build when the cache has none; it becomes the most recently used.
func (c *GraphCache[K, V]) Get(k K, build func() (V, error)) (V, error) {
	if v, ok := c.vals[k]; ok {
		c.use(k)
		return v, nil
	}
	v, err := build()
	if err != nil {
		var zero V
		return zero, err
	}
	if c.vals == nil {
		c.vals = map[K]V{}
	}
	for len(c.keys) >= max(c.Max, 1) {
		c.drop(c.keys[0])
	}
	c.keys = append(c.keys, k)
	c.vals[k] = v
	return v, nil
}

// use moves k to the most recently used end.
func (c *GraphCache[K, V]) use(k K) {
	for i, x := range c.keys {
		if x == k {
			c.keys = append(append(c.keys[:i:i], c.keys[i+1:]...), k)
			return
		}
	}
}

// drop closes and forgets k's graph.
func (c *GraphCache[K, V]) drop(k K) {
	for i, x := range c.keys {
		if x == k {
			c.keys = append(c.keys[:i:i], c.keys[i+1:]...)
			break
		}
	}
	if c.Close != nil {
		c.Close(c.vals[k])
	}
	delete(c.vals, k)
}

// Clear closes every graph.
func (c *GraphCache[K, V]) Clear() {
	for len(c.keys) > 0 {
		c.drop(c.keys[0])
	}
}

// Len is the number of graphs kept.
func (c *GraphCache[K, V]) Len() int { return len(c.keys) }

// All yields the graphs kept, least recently used first.
func (c *GraphCache[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for _, k := range c.keys {
			if !yield(k, c.vals[k]) {
				return
			}
		}
	}
}
