package ckpt

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/lumina-workbench/lumina/model/arch"
	"gorgonia.org/tensor"
)

// MetaConfig is the metadata key under which a checkpoint stores its arch.Config as JSON.
const MetaConfig = "config"

// ConfigMeta is the metadata value that records c (see CheckConfig).
func ConfigMeta(c arch.Config) string {
	b, _ := json.Marshal(c) // a Config has only numbers and strings: cannot fail
	return string(b)
}

// CheckConfig compares the config stored in meta[MetaConfig] with want and names every field that
// differs, e.g. `config mismatch: dim 256 in the file, 128 expected; layers 6 in the file, 4 expected`.
// The name is not compared: a renamed preset with the same architecture loads.
func CheckConfig(meta map[string]string, want arch.Config) error {
	s, ok := meta[MetaConfig]
	if !ok {
		return fmt.Errorf("no %q in the metadata", MetaConfig)
	}
	var got arch.Config
	if err := json.Unmarshal([]byte(s), &got); err != nil {
		return fmt.Errorf("metadata %q is not a model config: %s", MetaConfig, oneLine(err))
	}
	var diffs []string
	// "joint" and "" are the same injection (arch.ParseTextInjection).
	gv, wv := reflect.ValueOf(got.Canonical()), reflect.ValueOf(want.Canonical())
	for i := 0; i < gv.NumField(); i++ {
		f := gv.Type().Field(i)
		if f.Name == "Name" {
			continue
		}
		a, b := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(a, b) {
			tag := strings.Split(f.Tag.Get("json"), ",")[0]
			diffs = append(diffs, fmt.Sprintf("%s %v in the file, %v expected", tag, a, b))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("config mismatch (file %q, expected %q): %s", got.Name, want.Name, strings.Join(diffs, "; "))
	}
	return nil
}

// LoadModel loads the parameters of config c, converted to dtype: the stored config (when the file
// has one; weights exported from PyTorch do not) must match c, and the tensors must be exactly
// c.ParamShapes().
func LoadModel(path string, c arch.Config, dtype tensor.Dtype) (map[string]*tensor.Dense, map[string]string, error) {
	ts, meta, err := LoadInto(path, c.ParamShapes(), dtype)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := meta[MetaConfig]; ok {
		if err := CheckConfig(meta, c); err != nil {
			return nil, nil, fmt.Errorf("load checkpoint %s: %w", path, err)
		}
	}
	return ts, meta, nil
}

// LoadInto loads exactly the tensors of want, converted to dtype (Float32 or Float64). A tensor
// missing from the file, one the file has beyond want, or one of another shape is an error that
// names it; the header is checked before any data is read.
func LoadInto(path string, want []arch.Param, dtype tensor.Dtype) (map[string]*tensor.Dense, map[string]string, error) {
	fail := func(err error) (map[string]*tensor.Dense, map[string]string, error) {
		return nil, nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	if dtype != tensor.Float32 && dtype != tensor.Float64 {
		return fail(fmt.Errorf("dtype %v requested, want float32 or float64", dtype))
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	entries, meta, dataStart, err := readHeader(f, st.Size())
	if err != nil {
		return fail(err)
	}
	byName := make(map[string]entry, len(entries))
	for _, e := range entries {
		byName[e.name] = e
	}
	var problems []string
	wanted := make(map[string]bool, len(want))
	for _, p := range want {
		if wanted[p.Name] {
			return fail(fmt.Errorf("parameter %s listed twice in the expected set", p.Name))
		}
		wanted[p.Name] = true
		e, ok := byName[p.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("tensor %s missing (want shape %v)", p.Name, p.Shape))
		case !slices.Equal(e.shape, p.Shape):
			problems = append(problems, fmt.Sprintf("tensor %s has shape %v, want %v", p.Name, e.shape, p.Shape))
		}
	}
	var extra []string
	for _, e := range entries {
		if !wanted[e.name] {
			extra = append(extra, e.name)
		}
	}
	sort.Strings(extra)
	for _, n := range extra {
		problems = append(problems, fmt.Sprintf("unexpected tensor %s %v", n, byName[n].shape))
	}
	if len(problems) > 0 {
		msg := strings.Join(problems[:min(3, len(problems))], "; ")
		if len(problems) > 3 {
			msg += fmt.Sprintf("; and %d more", len(problems)-3)
		}
		return fail(fmt.Errorf("%s", msg))
	}
	// Every tensor in the file is wanted (extras were refused above), so all of them are read.
	out, err := readData(f, dataStart, entries, meta)
	if err != nil {
		return fail(err)
	}
	for name, t := range out {
		out[name] = convert(t, dtype)
	}
	if meta == nil {
		meta = map[string]string{}
	}
	return out, meta, nil
}

// convert returns t as dtype, copying only when the dtype differs.
func convert(t *tensor.Dense, dtype tensor.Dtype) *tensor.Dense {
	if t.Dtype() == dtype {
		return t
	}
	if len(t.Shape()) == 0 { // a scalar
		if dtype == tensor.Float64 {
			return tensor.New(tensor.FromScalar(float64(t.Float32s()[0])))
		}
		return tensor.New(tensor.FromScalar(float32(t.Float64s()[0])))
	}
	var backing any
	if dtype == tensor.Float64 {
		backing = castAll[float64](t.Float32s())
	} else {
		backing = castAll[float32](t.Float64s())
	}
	return tensor.New(tensor.WithShape(t.Shape().Clone()...), tensor.WithBacking(backing))
}

// castAll converts every element of src to D.
func castAll[D, S float32 | float64](src []S) []D {
	dst := make([]D, len(src))
	for i, v := range src {
		dst[i] = D(v)
	}
	return dst
}
