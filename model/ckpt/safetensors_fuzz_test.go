package ckpt

import (
	"bytes"
	"encoding/binary"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/internal/fuzzseed"
	"github.com/lumina-workbench/lumina/model/arch"
)

// headerOf splits safetensors bytes into the JSON header and the data section.
func headerOf(tb testing.TB, b []byte) (header, data []byte) {
	tb.Helper()
	if len(b) < 8 || uint64(len(b)-8) < binary.LittleEndian.Uint64(b) {
		tb.Fatalf("not a safetensors file: %d bytes", len(b))
	}
	n := 8 + binary.LittleEndian.Uint64(b)
	return b[8:n], b[n:]
}

// encoded is Encode into memory.
func encoded(tb testing.TB, ts map[string]*tensor.Dense, meta map[string]string) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := Encode(&b, ts, meta); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// decodeAllocLimit bounds what Decode may allocate for n input bytes: the tensors widened to at most
// twice their stored size, the parsed header and a read buffer. A header that claims more data than
// the file holds must be refused before anything of that size is allocated.
func decodeAllocLimit(n int) uint64 { return 64*uint64(n) + 4<<20 }

// FuzzDecode: no input panics or allocates beyond decodeAllocLimit; errors are one line; whatever
// decodes covers its data section exactly, and re-encodes to a file that decodes to the same names,
// shapes, bits and metadata.
func FuzzDecode(f *testing.F) {
	good := goodFile(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(handFile(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, []byte{0, 0x3c}))
	f.Add(handFile(`{"a":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}`, []byte{0x80, 0x3f}))
	f.Add(handFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil))
	f.Add(handFile(`{"__metadata__":null}`, nil))
	f.Add(handFile(`{"a":{"dtype":"F64","shape":[9223372036854775807],"data_offsets":[0,8]}}`, make([]byte, 8)))
	// A header that claims 4 GiB of data the file does not hold, and a length prefix that claims 1 EiB.
	f.Add(handFile(`{"a":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,4294967296]}}`, make([]byte, 8)))
	f.Add(append(le(uint64(1)<<60), good[8:]...))
	// The shipped checkpoint: its header over no data, and its metadata with its smallest tensors.
	header, _ := fuzzseed.CheckpointHeader(f, fuzzseed.ShippedCheckpoint)
	f.Add(handFile(string(header), nil))
	file, err := Decode(fuzzseed.Read(f, fuzzseed.ShippedCheckpoint))
	if err != nil {
		f.Fatal(err)
	}
	small := map[string]*tensor.Dense{}
	for _, n := range file.Names() {
		if t := file.Tensors[n]; t.Shape().TotalSize() <= 128 && len(small) < 8 {
			small[n] = t
		}
	}
	f.Add(encoded(f, small, file.Meta))
	// Files written by PyTorch's safetensors (the parity fixtures).
	for _, b := range fuzzseed.Glob(f, "model/testdata/parity/[ir]*.safetensors") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var file *File
		var err error
		if n := fuzzseed.Allocated(func() { file, err = Decode(b) }); n > decodeAllocLimit(len(b)) {
			t.Fatalf("decoding %d bytes allocated %d (error: %v)", len(b), n, err)
		}
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		// The tensors fill the data section exactly.
		var size int64
		for name, dt := range file.DTypes {
			size += int64(file.Tensors[name].Shape().TotalSize()) * dtypeSize(dt)
		}
		if want := int64(len(b)) - 8 - int64(binary.LittleEndian.Uint64(b)); size != want {
			t.Fatalf("tensors hold %d bytes, the data section %d", size, want)
		}
		again, err := Decode(encoded(t, file.Tensors, file.Meta))
		if err != nil {
			t.Fatalf("decode of the re-encoded file: %v", err)
		}
		if !sameFile(file, again) {
			t.Fatalf("re-encoding changed the file: %v then %v", file.Names(), again.Names())
		}
		// The file-reading paths agree with Decode: Load, and LoadInto asked for exactly its tensors.
		path := tempCheckpoint(t, b)
		loaded, err := Load(path)
		if err != nil || !sameFile(file, loaded) {
			t.Fatalf("Load disagrees with Decode: %v", err)
		}
		want := make([]arch.Param, 0, len(file.Tensors))
		for _, n := range file.Names() {
			want = append(want, arch.Param{Name: n, Shape: file.Tensors[n].Shape().Clone()})
		}
		ts, meta, err := LoadInto(path, want, tensor.Float32)
		if err != nil || !maps.Equal(meta, file.Meta) {
			t.Fatalf("LoadInto of the file's own tensors: %v", err)
		}
		for n, v := range ts {
			if !sameTensor(v, convert(file.Tensors[n], tensor.Float32)) {
				t.Fatalf("LoadInto: tensor %s differs from Decode's", n)
			}
		}
	})
}

// sameFile: the same metadata and tensors, compared by shape, dtype and bits (NaN payloads too).
func sameFile(a, b *File) bool {
	if !maps.Equal(a.Meta, b.Meta) || !slices.Equal(a.Names(), b.Names()) {
		return false
	}
	for n, ta := range a.Tensors {
		if !sameTensor(ta, b.Tensors[n]) {
			return false
		}
	}
	return true
}

func sameTensor(a, b *tensor.Dense) bool {
	if !slices.Equal(a.Shape(), b.Shape()) || a.Dtype() != b.Dtype() {
		return false
	}
	if !a.IsScalar() && a.Shape().TotalSize() == 0 {
		return true // no data to compare (and Data panics on it)
	}
	bits32 := func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }
	bits64 := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }
	switch v := a.Data().(type) {
	case []float32:
		return slices.EqualFunc(v, b.Data().([]float32), bits32)
	case []float64:
		return slices.EqualFunc(v, b.Data().([]float64), bits64)
	case float32:
		return bits32(v, b.Data().(float32))
	case float64:
		return bits64(v, b.Data().(float64))
	}
	return false
}

// tempCheckpoint writes b where the loaders read files.
func tempCheckpoint(t *testing.T, b []byte) string {
	return fuzzseed.WriteTemp(t, "fuzz.safetensors", b)
}
