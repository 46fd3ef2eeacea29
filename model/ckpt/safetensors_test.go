package ckpt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/model/arch"
	"gorgonia.org/tensor"
)

func f32(shape []int, v ...float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

func f64(shape []int, v ...float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// le builds little-endian bytes by hand, independently of the writer.
func le(vals ...any) []byte {
	var b bytes.Buffer
	for _, v := range vals {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func handFile(header string, data []byte) []byte {
	return append(append(le(uint64(len(header))), header...), data...)
}

func TestEncodeByteLayout(t *testing.T) {
	ts := map[string]*tensor.Dense{
		"b":   f64([]int{2}, 1.5, -2),
		"a.w": f32([]int{1, 2}, 0.25, 3),
	}
	var got bytes.Buffer
	if err := Encode(&got, ts, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	data := le(float32(0.25), float32(3), 1.5, -2.0)
	sum := sha256.Sum256(data)
	header := `{"__metadata__":{"data_sha256":"` + hex.EncodeToString(sum[:]) + `","k":"v"},` +
		`"a.w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	want := handFile(header, data)
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("bytes differ:\n got %q\nwant %q", got.Bytes(), want)
	}
}

func TestDecodeHandBuiltFile(t *testing.T) {
	// Entries listed out of data order, PyTorch-style spacing, trailing space padding, F16 and BF16.
	header := `{"z": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "__metadata__": {"format": "pt"}, ` +
		`"h": {"dtype": "F16", "shape": [2, 3], "data_offsets": [8, 20]}, "bf": {"dtype": "BF16", "shape": [], "data_offsets": [20, 22]}}` + "      "
	data := le(float32(7), float32(-1),
		uint16(0x3c00), uint16(0xc000), uint16(0x3800), uint16(0x0001), uint16(0x7bff), uint16(0x8000), // 1 -2 .5 2^-24 65504 -0
		uint16(0x3fc0)) // bf16 1.5
	f, err := Decode(handFile(header, data))
	if err != nil {
		t.Fatal(err)
	}
	if f.Meta["format"] != "pt" || len(f.Tensors) != 3 {
		t.Fatalf("meta %v, %d tensors", f.Meta, len(f.Tensors))
	}
	if z := f.Tensors["z"].Float32s(); z[0] != 7 || z[1] != -1 {
		t.Errorf("z = %v", z)
	}
	h := f.Tensors["h"]
	wantH := []float32{1, -2, 0.5, float32(math.Ldexp(1, -24)), 65504, 0}
	if !h.Shape().Eq(tensor.Shape{2, 3}) || h.Dtype() != tensor.Float32 {
		t.Fatalf("h shape %v dtype %v", h.Shape(), h.Dtype())
	}
	for i, v := range h.Float32s() {
		if v != wantH[i] {
			t.Errorf("h[%d] = %v, want %v", i, v, wantH[i])
		}
	}
	if !math.Signbit(float64(h.Float32s()[5])) {
		t.Error("F16 -0 lost its sign")
	}
	if bf := f.Tensors["bf"]; !bf.IsScalar() || bf.Float32s()[0] != 1.5 {
		t.Errorf("bf = %v", bf)
	}
	if f.DTypes["h"] != "F16" || f.DTypes["bf"] != "BF16" {
		t.Errorf("dtypes %v", f.DTypes)
	}
	// Half infinities and NaNs widen to theirs (and a file holding one is refused: TestLoadRefusesNonFinite).
	if v := halfToFloat32(0x7c00); !math.IsInf(float64(v), 1) {
		t.Errorf("F16 +inf = %v", v)
	}
	if v := halfToFloat32(0xfe00); !math.IsNaN(float64(v)) {
		t.Errorf("F16 NaN = %v", v)
	}
}

func TestHalfAllFinite(t *testing.T) {
	// Every finite binary16 against the formula (-1)^s · 2^(e-15) · (1 + m/1024), subnormals 2^-14 · m/1024.
	for h := 0; h < 1<<16; h++ {
		s, e, m := h>>15, (h>>10)&0x1f, h&0x3ff
		if e == 0x1f {
			continue
		}
		var want float64
		if e == 0 {
			want = math.Ldexp(float64(m)/1024, -14)
		} else {
			want = math.Ldexp(1+float64(m)/1024, e-15)
		}
		if s == 1 {
			want = -want
		}
		if got := halfToFloat32(uint16(h)); float64(got) != want {
			t.Fatalf("half %#04x = %v, want %v", h, got, want)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.safetensors")
	big := make([]float32, 70000) // spans several writer chunks
	for i := range big {
		big[i] = float32(i)*0.5 - 3
	}
	ts := map[string]*tensor.Dense{
		"w":      f32([]int{350, 200}, big...),
		"d":      f64([]int{3}, math.Pi, -0.0, math.SmallestNonzeroFloat64),
		"scalar": tensor.New(tensor.FromScalar(2.5)),
		"empty":  f32([]int{0, 3}),
	}
	meta := map[string]string{"step": "12", "note": "multi\nline \"quoted\" 中文"}
	if err := Save(p, ts, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Meta["step"] != "12" || f.Meta["note"] != meta["note"] {
		t.Errorf("meta %v", f.Meta)
	}
	for name, want := range ts {
		got := f.Tensors[name]
		if got == nil || got.Dtype() != want.Dtype() || !got.Shape().Eq(want.Shape()) {
			t.Fatalf("%s: got %v, want %v %v", name, got, want.Dtype(), want.Shape())
		}
		if want.Dtype() == tensor.Float32 {
			a, b := got.Float32s(), want.Float32s()
			for i := range b {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("%s[%d] = %v, want %v", name, i, a[i], b[i])
				}
			}
		} else {
			a, b := got.Float64s(), want.Float64s()
			for i := range b {
				if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
					t.Fatalf("%s[%d] = %v, want %v", name, i, a[i], b[i])
				}
			}
		}
	}
	// Same content → same bytes, whatever the map's iteration order.
	first, _ := os.ReadFile(p)
	for i := 0; i < 3; i++ {
		if err := Save(p, ts, meta); err != nil {
			t.Fatal(err)
		}
		again, _ := os.ReadFile(p)
		if !bytes.Equal(first, again) {
			t.Fatal("Save is not deterministic")
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	assertNoTemp(t, dir)
}

// TestLoadRefusesNonFinite: every reader refuses a tensor holding NaN or ±Inf, naming the file and the
// tensor, whether the file carries a checksum (it matches: the values were saved that way) or not.
func TestLoadRefusesNonFinite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "diverged.safetensors")
	ts := map[string]*tensor.Dense{
		"a":            f32([]int{2}, 1, 2),
		"layers.0.w":   f32([]int{3}, 1, float32(math.NaN()), float32(math.Inf(-1))),
		"layers.1.f64": f64([]int{1}, 1),
	}
	if err := Save(p, ts, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"load checkpoint " + p + ": ", "tensor layers.0.w holds 2 non-finite value(s)", "element 1, is NaN", "earlier checkpoint"}
	check := func(what string, err error) {
		t.Helper()
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %v, want one line containing %q", what, err, w)
			}
		}
	}
	_, err := Load(p)
	check("Load", err)
	_, _, err = LoadInto(p, []arch.Param{{Name: "a", Shape: []int{2}}, {Name: "layers.0.w", Shape: []int{3}}, {Name: "layers.1.f64", Shape: []int{1}}}, tensor.Float32)
	check("LoadInto", err)
	raw, _ := os.ReadFile(p)
	_, err = Decode(raw)
	if err == nil || !strings.Contains(err.Error(), "tensor layers.0.w") {
		t.Errorf("Decode: %v", err)
	}
	// An F64 infinity and a half-precision one, in a file without a checksum.
	for _, hf := range [][]byte{
		handFile(`{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, le(1.0, math.Inf(1))),
		handFile(`{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, le(uint16(0xfc00))),
	} {
		if _, err := Decode(hf); err == nil || !strings.Contains(err.Error(), "tensor x holds 1 non-finite value(s) (the first, element") {
			t.Errorf("infinity: %v", err)
		}
	}
}

// TestChecksum: a written file records the data's SHA-256; a changed data byte is reported as damage,
// naming the file, before anything else; a file without a checksum (other tools, older checkpoints)
// loads.
func TestChecksum(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.safetensors")
	if err := Save(p, map[string]*tensor.Dense{"a": f32([]int{4}, 1, 2, 3, 4), "b": f64([]int{1}, 5)}, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	head, err := ReadMeta(p)
	if err != nil || len(head[MetaDataSHA256]) != 64 {
		t.Fatalf("header metadata %v (%v): want a SHA-256", head, err)
	}
	if _, ok := f.Meta[MetaDataSHA256]; ok || f.Meta["k"] != "v" {
		t.Fatalf("loaded metadata %v: want the caller's keys without the checksum", f.Meta)
	}
	raw, _ := os.ReadFile(p)
	// "a" holds the data bytes [0, 16), "b" [16, 24): the file's last 24 bytes.
	flip := func(b []byte) { b[len(b)-20] ^= 0x10 }
	nan := func(b []byte) { copy(b[len(b)-16:], []byte{0xff, 0xff, 0xff, 0xff}) } // a[2] becomes NaN
	for name, damage := range map[string]func([]byte){"flipped bit": flip, "NaN bytes": nan} {
		bad := bytes.Clone(raw)
		damage(bad)
		q := filepath.Join(dir, "damaged.safetensors")
		os.WriteFile(q, bad, 0o644)
		_, err := Load(q)
		if err == nil || !strings.Contains(err.Error(), "load checkpoint "+q+": data checksum mismatch") || !strings.Contains(err.Error(), "copy it again") {
			t.Errorf("%s: %v", name, err)
		}
		if _, _, err := LoadInto(q, []arch.Param{{Name: "a", Shape: []int{4}}, {Name: "b", Shape: []int{1}}}, tensor.Float32); err == nil || !strings.Contains(err.Error(), "checksum") {
			t.Errorf("%s, LoadInto: %v", name, err)
		}
	}
	// Re-saving what was loaded replaces the stale checksum with the current one.
	f.Tensors["a"].Float32s()[0] = 9
	if err := Save(p, f.Tensors, f.Meta); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatal(err)
	}
}

func TestSaveTransposedView(t *testing.T) {
	// A transposed tensor must be written in its logical (row-major) order, not its backing order.
	a := f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	if err := a.T(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Encode(&b, map[string]*tensor.Dense{"t": a}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got := f.Tensors["t"]
	want := []float32{1, 4, 2, 5, 3, 6}
	if !got.Shape().Eq(tensor.Shape{3, 2}) {
		t.Fatalf("shape %v", got.Shape())
	}
	for i, v := range got.Float32s() {
		if v != want[i] {
			t.Fatalf("transposed data %v, want %v", got.Float32s(), want)
		}
	}
}

func TestSaveRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.safetensors")
	for name, ts := range map[string]map[string]*tensor.Dense{
		"nil":      {"a": nil},
		"int":      {"a": tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{1, 2}))},
		"reserved": {"__metadata__": f32([]int{1}, 1)},
	} {
		err := Save(p, ts, nil)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v", name, err)
		}
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Error("a refused save created the file")
	}
	assertNoTemp(t, dir)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

type failAfter struct {
	w    io.Writer
	left int
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.w.Write(p[:f.left])
		f.left = 0
		return n, errors.New("no space left on device (simulated)")
	}
	f.left -= len(p)
	return f.w.Write(p)
}

func TestFailedWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "run.safetensors")
	old := map[string]*tensor.Dense{"w": f32([]int{2}, 1, 2)}
	if err := Save(p, old, map[string]string{"step": "1"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	big := map[string]*tensor.Dense{"w": f32([]int{100000}, make([]float32, 100000)...)}
	for _, after := range []int{0, 5, 100, 3 << 20 / 16} {
		err := save(p, big, map[string]string{"step": "2"}, func(w io.Writer) io.Writer { return &failAfter{w: w, left: after} })
		if err == nil || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), p) {
			t.Fatalf("fail after %d bytes: error %v", after, err)
		}
		now, _ := os.ReadFile(p)
		if !bytes.Equal(before, now) {
			t.Fatalf("fail after %d bytes replaced the old file", after)
		}
		assertNoTemp(t, dir)
	}
}

func TestSaveIntoUnwritablePlaces(t *testing.T) {
	dir := t.TempDir()
	ts := map[string]*tensor.Dense{"w": f32([]int{1}, 1)}
	// A parent that is a regular file fails for every user, root included.
	file := filepath.Join(dir, "plain")
	os.WriteFile(file, []byte("x"), 0o644)
	if err := Save(filepath.Join(file, "x.safetensors"), ts, nil); err == nil || !strings.Contains(err.Error(), "x.safetensors") {
		t.Errorf("save under a file: %v", err)
	}
	if err := Save(filepath.Join(dir, "missing", "x.safetensors"), ts, nil); err == nil {
		t.Error("save into a missing directory succeeded")
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o755)
	p := filepath.Join(ro, "x.safetensors")
	if err := Save(p, map[string]*tensor.Dense{"w": f32([]int{1}, 7)}, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	os.Chmod(ro, 0o555)
	defer os.Chmod(ro, 0o755)
	if os.Geteuid() == 0 {
		t.Skip("running as root: permission bits do not stop root from writing, read-only case not testable")
	}
	err := Save(p, ts, nil)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("save into a read-only dir: %v", err)
	}
	if now, _ := os.ReadFile(p); !bytes.Equal(before, now) {
		t.Error("read-only dir: old file changed")
	}
}

// goodFile is a small valid file for the corruption tests.
func goodFile(t testing.TB) []byte {
	var b bytes.Buffer
	ts := map[string]*tensor.Dense{"a": f32([]int{2, 2}, 1, 2, 3, 4), "b": f64([]int{3}, 1, 2, 3)}
	if err := Encode(&b, ts, map[string]string{"config": "{}"}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCorruptFilesGiveOneLineErrors(t *testing.T) {
	dir := t.TempDir()
	good := goodFile(t)
	hdr := func(h string, data []byte) []byte { return handFile(h, data) }
	cases := map[string]struct {
		b   []byte
		msg string
	}{
		"empty":         {nil, "truncated"},
		"short length":  {good[:5], "truncated"},
		"header cut":    {good[:20], "truncated"},
		"data cut":      {good[:len(good)-1], "truncated"},
		"huge header":   {append(le(uint64(1)<<60), good[8:]...), "exceeds"},
		"bad json":      {hdr("{\"a\":\n{", nil), "corrupt header"},
		"not object":    {hdr("[1,2]   ", nil), "corrupt header"},
		"bad dtype":     {hdr(`{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), `dtype "I8"`},
		"shape vs size": {hdr(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "shape [3]"},
		"neg shape":     {hdr(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, make([]byte, 8)), "shape"},
		"huge shape":    {hdr(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}`, make([]byte, 8)), "shape"},
		"offsets rev":   {hdr(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, make([]byte, 8)), "data_offsets"},
		"one offset":    {hdr(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, make([]byte, 8)), "data_offsets"},
		"gap":           {hdr(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "gap or overlap"},
		"overlap": {hdr(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
			make([]byte, 8)), "gap or overlap"},
		"trailing data": {hdr(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), "cover 4 data bytes"},
		"bad metadata":  {hdr(`{"__metadata__":{"k":1}}`, nil), "__metadata__"},
		"past end":      {hdr(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)), "truncated"},
	}
	for name, tc := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".safetensors")
		os.WriteFile(p, tc.b, 0o644)
		_, err := Load(p)
		if err == nil {
			t.Errorf("%s: loaded without error", name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.msg) || !strings.HasPrefix(msg, "load checkpoint "+p+": ") || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line starting with the path and naming %q", name, msg, tc.msg)
		}
		if _, _, err := LoadInto(p, []arch.Param{{Name: "a", Shape: []int{2, 2}}}, tensor.Float32); err == nil {
			t.Errorf("%s: LoadInto accepted it", name)
		}
	}
	// Every truncation point of a valid file is refused, none panics.
	for i := 0; i < len(good); i++ {
		if _, err := Decode(good[:i]); err == nil {
			t.Fatalf("file cut at %d of %d bytes decoded", i, len(good))
		}
	}
	if _, err := Load(filepath.Join(dir, "absent.safetensors")); err == nil || !strings.Contains(err.Error(), "absent.safetensors") {
		t.Errorf("absent file: %v", err)
	}
}

func tinyParams() []arch.Param {
	return []arch.Param{{Name: "layers.3.attn.qkv.weight", Shape: []int{512, 128}}, {Name: "b", Shape: []int{3}}}
}

func TestLoadIntoReportsByName(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.safetensors")
	qkv := make([]float32, 384*128)
	qkv[5] = 1.25
	Save(p, map[string]*tensor.Dense{
		"layers.3.attn.qkv.weight": f32([]int{384, 128}, qkv...),
		"b":                        f64([]int{3}, 1, 2, 3),
	}, nil)
	_, _, err := LoadInto(p, tinyParams(), tensor.Float32)
	want := "load checkpoint " + p + ": tensor layers.3.attn.qkv.weight has shape [384 128], want [512 128]"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant  %s", err, want)
	}

	Save(p, map[string]*tensor.Dense{"b": f64([]int{3}, 1, 2, 3), "stray": f32([]int{1}, 0)}, nil)
	_, _, err = LoadInto(p, tinyParams(), tensor.Float32)
	if err == nil || !strings.Contains(err.Error(), "tensor layers.3.attn.qkv.weight missing") || !strings.Contains(err.Error(), "unexpected tensor stray") {
		t.Fatalf("missing+extra: %v", err)
	}

	// Many problems stay on one line, the count of the rest given.
	var many []arch.Param
	for _, n := range []string{"a", "c", "d", "e", "f"} {
		many = append(many, arch.Param{Name: n, Shape: []int{1}})
	}
	_, _, err = LoadInto(p, many, tensor.Float32)
	if err == nil || !strings.Contains(err.Error(), "and 4 more") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("many problems: %v", err)
	}

	// Exact match loads, converting F64 → F32 and F32 → F64.
	Save(p, map[string]*tensor.Dense{"layers.3.attn.qkv.weight": f32([]int{512, 128}, make([]float32, 512*128)...),
		"b": f64([]int{3}, 1, 2.5, 3)}, map[string]string{"k": "v"})
	ts, meta, err := LoadInto(p, tinyParams(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if meta["k"] != "v" || ts["b"].Dtype() != tensor.Float32 || ts["b"].Float32s()[1] != 2.5 {
		t.Fatalf("loaded %v %v", meta, ts["b"])
	}
	ts, _, err = LoadInto(p, tinyParams(), tensor.Float64)
	if err != nil || ts["layers.3.attn.qkv.weight"].Dtype() != tensor.Float64 {
		t.Fatalf("as float64: %v", err)
	}
	if _, _, err := LoadInto(p, tinyParams(), tensor.Int); err == nil {
		t.Error("int dtype accepted")
	}
}

func TestCheckConfig(t *testing.T) {
	tiny, _ := arch.LookupConfig("tiny")
	small, _ := arch.LookupConfig("small")
	meta := map[string]string{MetaConfig: ConfigMeta(small)}
	err := CheckConfig(meta, tiny)
	if err == nil {
		t.Fatal("small accepted as tiny")
	}
	for _, s := range []string{"dim 256 in the file, 128 expected", "layers 6 in the file, 4 expected", "heads 8", "kv_heads 4", "cap_dim"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "patch") || strings.Contains(err.Error(), "norm_eps") {
		t.Errorf("error %q names fields that agree", err)
	}
	renamed := tiny
	renamed.Name = "my-tiny"
	if err := CheckConfig(map[string]string{MetaConfig: ConfigMeta(renamed)}, tiny); err != nil {
		t.Errorf("same architecture, other name: %v", err)
	}
	if err := CheckConfig(map[string]string{}, tiny); err == nil {
		t.Error("missing config accepted")
	}
	if err := CheckConfig(map[string]string{MetaConfig: "{"}, tiny); err == nil {
		t.Error("garbage config accepted")
	}

	// LoadModel: right shapes but a stored config that disagrees is refused, naming the field.
	dir := t.TempDir()
	p := filepath.Join(dir, "m.safetensors")
	c := tiny
	c.NormEps = 1e-6 // changes no shape
	ts := map[string]*tensor.Dense{}
	for _, prm := range tiny.ParamShapes() {
		ts[prm.Name] = tensor.New(tensor.WithShape(prm.Shape...), tensor.WithBacking(make([]float32, prm.Size())))
	}
	Save(p, ts, map[string]string{MetaConfig: ConfigMeta(c)})
	if _, _, err := LoadModel(p, tiny, tensor.Float32); err == nil || !strings.Contains(err.Error(), "norm_eps") || !strings.Contains(err.Error(), p) {
		t.Errorf("LoadModel with mismatching config: %v", err)
	}
	Save(p, ts, map[string]string{MetaConfig: ConfigMeta(tiny)})
	if got, _, err := LoadModel(p, tiny, tensor.Float32); err != nil || len(got) != len(tiny.ParamShapes()) {
		t.Errorf("LoadModel: %v", err)
	}
}

// TestReadsPyTorchExport generates an export of the PyTorch reference (tools/reference/nextdit.py) and
// loads it strictly as the tiny config: names, shapes and both dtypes of the other implementation's writer.
func TestReadsPyTorchExport(t *testing.T) {
	const py = "/usr/bin/python3"
	script := filepath.Join("..", "..", "tools", "reference", "nextdit.py")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("the PyTorch reference: %v", err)
	}
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("no /usr/bin/python3 with torch")
	}
	dir := t.TempDir()
	out, err := exec.Command(py, script, "--export", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	tiny, _ := arch.LookupConfig("tiny")
	w32, _, err := LoadModel(filepath.Join(dir, "weights.safetensors"), tiny, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	w64, _, err := LoadModel(filepath.Join(dir, "weights64.safetensors"), tiny, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	// The F32 file is the F64 weights rounded by PyTorch: the two readers must agree to the bit.
	for name, a := range w32 {
		b := w64[name].Float64s()
		for i, v := range a.Float32s() {
			if v != float32(b[i]) {
				t.Fatalf("%s[%d]: F32 file %v, F64 file %v", name, i, v, b[i])
			}
		}
	}
	// RMSNorm weights were initialised around 1, matrices around 0: a sanity check that the data
	// lines up with the names.
	if m := mean(w64["layers.0.an1.weight"].Float64s()); math.Abs(m-1) > 0.2 {
		t.Errorf("an1 weight mean %v, want ≈1", m)
	}
	if m := mean(w64["layers.0.attn.qkv.weight"].Float64s()); math.Abs(m) > 0.05 {
		t.Errorf("qkv weight mean %v, want ≈0", m)
	}
	io, err := Load(filepath.Join(dir, "io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !io.Tensors["x"].Shape().Eq(tensor.Shape{2, 3, 32, 32}) || !io.Tensors["v"].Shape().Eq(tensor.Shape{2, 3, 32, 32}) ||
		io.Tensors["t"].Float64s()[0] != 0.3 {
		t.Errorf("io.safetensors: x %v v %v t %v", io.Tensors["x"].Shape(), io.Tensors["v"].Shape(), io.Tensors["t"])
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
