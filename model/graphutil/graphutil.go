// Package graphutil holds the small Gorgonia helpers the model packages share: building and filling
// tensors from float64 values, and carrying op-construction errors out of nested Forward calls.
package graphutil

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// buildError carries an op-construction error out of deeply nested Forward calls; Catch recovers it and
// returns it as an ordinary error. Shape errors are programming errors in model code, but a caller
// feeding a wrong shape still gets an error, never a crash.
type buildError struct{ err error }

// Must returns n, or unwinds to the nearest Catch with err.
func Must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(buildError{err})
	}
	return n
}

// Fail unwinds to the nearest Catch with err.
func Fail(err error) { panic(buildError{err}) }

// Catch, deferred, turns a Must/Fail unwind into *err; other panics propagate.
func Catch(err *error) {
	if r := recover(); r != nil {
		be, ok := r.(buildError)
		if !ok {
			panic(r)
		}
		*err = be.err
	}
}

// DenseFrom builds a tensor of dtype dt from float64 values.
func DenseFrom(dt tensor.Dtype, shape []int, v []float64) *tensor.Dense {
	if dt == tensor.Float32 {
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), v...)))
}

// Input makes a zero-filled input node, so a graph built once can be fed batch after batch by Fill.
func Input(g *G.ExprGraph, dt tensor.Dtype, name string, shape ...int) *G.Node {
	return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name),
		G.WithValue(tensor.New(tensor.Of(dt), tensor.WithShape(shape...))))
}

// Fill copies float64 values into an input node's existing value, converting to its dtype.
func Fill(n *G.Node, v []float64) error {
	d, ok := n.Value().(*tensor.Dense)
	if !ok {
		return fmt.Errorf("input %s has no tensor value", n.Name())
	}
	if d.Shape().TotalSize() != len(v) {
		return fmt.Errorf("input %s wants %d values %v, got %d", n.Name(), d.Shape().TotalSize(), []int(d.Shape()), len(v))
	}
	switch data := d.Data().(type) {
	case []float32:
		for i, x := range v {
			data[i] = float32(x)
		}
	case []float64:
		copy(data, v)
	default:
		return fmt.Errorf("input %s: unsupported dtype %v", n.Name(), d.Dtype())
	}
	return nil
}

// Float64s reads any float tensor as float64 values.
func Float64s(d *tensor.Dense) []float64 {
	switch data := d.Data().(type) {
	case []float32:
		out := make([]float64, len(data))
		for i, x := range data {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), data...)
	}
	return nil
}

// SameShape compares a tensor shape with a plain one.
func SameShape(a tensor.Shape, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Jitter adds N(0, sigma²) noise from rng to every element of t (float32 or float64): weights moved off
// their initialisation, so that no gradient is zero by construction in the tests of an executor.
func Jitter(t *tensor.Dense, rng *rand.Rand, sigma float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] += float32(sigma * rng.NormFloat64())
		}
	case []float64:
		for i := range d {
			d[i] += sigma * rng.NormFloat64()
		}
	}
}
