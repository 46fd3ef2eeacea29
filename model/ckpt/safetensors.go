// Package ckpt reads and writes checkpoints as safetensors files, the format PyTorch and every other
// tool read: an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}
// with an optional "__metadata__" map of strings, then the raw little-endian tensor bytes.
//
// Writes are atomic and byte-for-byte deterministic; reads never panic on a damaged file and report
// what is wrong in one line that names the file.
package ckpt

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/lumina-workbench/lumina/internal/atomicfile"

	"gorgonia.org/tensor"
)

// MaxHeaderLen bounds the JSON header, as the reference implementation does, so a corrupt length
// cannot make the reader allocate gigabytes before noticing.
const MaxHeaderLen = 100 << 20

const metadataKey = "__metadata__"

// MetaDataSHA256 is the metadata key of the data checksum: the lower-case hex SHA-256 of every byte
// after the header. This package's writers always set it and its readers verify it when it is there
// (and leave it out of File.Meta); files from other tools, and checkpoints written before the checksum
// existed, have none and load.
const MetaDataSHA256 = "data_sha256"

// File is a loaded checkpoint. Tensors are float32 or float64 (F16 and BF16 are widened to float32).
type File struct {
	Path    string
	Tensors map[string]*tensor.Dense
	Meta    map[string]string
	// DTypes holds each tensor's dtype as stored in the file ("F32", "F64", "F16", "BF16").
	DTypes map[string]string
}

// Names lists the tensors in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type entry struct {
	name    string
	dtype   string
	shape   []int
	begin   int64 // offsets into the data section
	end     int64
	elemLen int64
}

func dtypeSize(dt string) int64 {
	switch dt {
	case "F64":
		return 8
	case "F32":
		return 4
	case "F16", "BF16":
		return 2
	}
	return 0
}

// Save writes tensors and metadata to path atomically: a temporary file in the same directory,
// fsync, rename over path, fsync of the directory. On any failure the temporary file is removed and
// whatever was at path before is left untouched. Tensors are written in sorted name order, so the
// same input always gives the same bytes.
func Save(path string, tensors map[string]*tensor.Dense, meta map[string]string) error {
	return save(path, tensors, meta, nil)
}

// save is Save with a hook wrapping the file writer, which the tests use to fail a write half-way.
func save(path string, tensors map[string]*tensor.Dense, meta map[string]string, wrap func(io.Writer) io.Writer) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("save checkpoint %s: %w", path, err)
		}
	}()
	// Encode the header first: a bad tensor is reported before any file is created.
	header, order, err := buildHeader(tensors, meta)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, wrap, func(w io.Writer) error { return writeBody(w, header, order, tensors) })
}

// Encode writes the safetensors bytes of tensors and meta to w (what Save puts in the file).
func Encode(w io.Writer, tensors map[string]*tensor.Dense, meta map[string]string) error {
	header, order, err := buildHeader(tensors, meta)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := writeBody(bw, header, order, tensors); err != nil {
		return err
	}
	return bw.Flush()
}

// buildHeader returns the padded JSON header and the tensor names in data order. The metadata gets
// the data checksum (MetaDataSHA256), computed here because the header precedes the data.
func buildHeader(tensors map[string]*tensor.Dense, meta map[string]string) ([]byte, []string, error) {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	var entries bytes.Buffer
	var off int64
	for _, n := range names {
		t := tensors[n]
		if n == "" || n == metadataKey {
			return nil, nil, fmt.Errorf("invalid tensor name %q", n)
		}
		if t == nil {
			return nil, nil, fmt.Errorf("tensor %s is nil", n)
		}
		var dt string
		switch t.Dtype() {
		case tensor.Float32:
			dt = "F32"
		case tensor.Float64:
			dt = "F64"
		default:
			return nil, nil, fmt.Errorf("tensor %s has dtype %v, only float32 and float64 are saved", n, t.Dtype())
		}
		shape := []int(t.Shape())
		elems := int64(1)
		for _, d := range shape {
			elems *= int64(d)
		}
		size := elems * dtypeSize(dt)
		nb, _ := json.Marshal(n)
		sb, _ := json.Marshal(append([]int{}, shape...)) // a nil shape (scalar) must print [] not null
		fmt.Fprintf(&entries, `,%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, nb, dt, sb, off, off+size)
		off += size
	}
	sum := sha256.New()
	if err := writeData(sum, names, tensors); err != nil {
		return nil, nil, err
	}
	full := maps.Clone(meta)
	if full == nil {
		full = map[string]string{}
	}
	full[MetaDataSHA256] = hex.EncodeToString(sum.Sum(nil))
	// json.Marshal of a map sorts its keys: deterministic.
	mb, err := json.Marshal(full)
	if err != nil {
		return nil, nil, err
	}
	var h bytes.Buffer
	h.WriteString(`{"` + metadataKey + `":`)
	h.Write(mb)
	h.Write(entries.Bytes())
	h.WriteByte('}')
	// Pad with spaces to a multiple of 8 so the data starts aligned (what the reference writers do).
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), names, nil
}

func writeBody(w io.Writer, header []byte, order []string, tensors map[string]*tensor.Dense) error {
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	return writeData(w, order, tensors)
}

// writeData writes the tensors' bytes in order: the data section.
func writeData(w io.Writer, order []string, tensors map[string]*tensor.Dense) error {
	buf := make([]byte, 0, 1<<16)
	for _, name := range order {
		t := contiguous(tensors[name])
		n := t.Shape().TotalSize()
		var err error
		switch t.Dtype() {
		case tensor.Float32:
			err = writeEach(w, buf, t.Float32s()[:n], func(b []byte, v float32) []byte {
				return binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			})
		case tensor.Float64:
			err = writeEach(w, buf, t.Float64s()[:n], func(b []byte, v float64) []byte {
				return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeEach encodes every value with put into buf (used as scratch space) and writes it to w, a
// buffer-full at a time.
func writeEach[T any](w io.Writer, buf []byte, vals []T, put func([]byte, T) []byte) error {
	buf = buf[:0]
	for _, v := range vals {
		buf = put(buf, v)
		if len(buf) >= cap(buf)-8 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// contiguous returns t itself, or a packed copy when t is a strided view or transposed.
func contiguous(t *tensor.Dense) *tensor.Dense {
	if t.IsMaterializable() || t.RequiresIterator() {
		if m, ok := t.Materialize().(*tensor.Dense); ok {
			return m
		}
	}
	return t
}

// Load reads a whole safetensors file.
func Load(path string) (*File, error) {
	var file *File
	err := withFile(path, func(f *os.File, size int64) (err error) {
		file, err = decode(f, size)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	file.Path = path
	return file, nil
}

// withFile opens path for reading and hands read the file and its size.
func withFile(path string, read func(f *os.File, size int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return read(f, st.Size())
}

// Decode reads safetensors bytes held in memory.
func Decode(b []byte) (*File, error) {
	return decode(bytes.NewReader(b), int64(len(b)))
}

// readHeader parses and checks the header against the file size: every dtype known, every shape
// non-negative and matching its byte range, the ranges packed end to end from 0 to the end of the
// file with no gap or overlap (the format's rule, which also catches truncation).
func readHeader(r io.ReaderAt, size int64) (entries []entry, meta map[string]string, dataStart int64, err error) {
	if size < 8 {
		return nil, nil, 0, fmt.Errorf("truncated file: %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, nil, 0, fmt.Errorf("read header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > MaxHeaderLen {
		return nil, nil, 0, fmt.Errorf("corrupt header: length %d exceeds the %d-byte limit (not a safetensors file?)", hlen, MaxHeaderLen)
	}
	if int64(hlen) > size-8 {
		return nil, nil, 0, fmt.Errorf("truncated file: header of %d bytes, only %d bytes follow the length", hlen, size-8)
	}
	hb := make([]byte, hlen)
	if _, err := r.ReadAt(hb, 8); err != nil {
		return nil, nil, 0, fmt.Errorf("read header: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, nil, 0, fmt.Errorf("corrupt header: %v", oneLine(err))
	}
	dataStart = 8 + int64(hlen)
	dataLen := size - dataStart
	if m, ok := raw[metadataKey]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, nil, 0, fmt.Errorf("corrupt header: %s is not a map of strings: %v", metadataKey, oneLine(err))
		}
		delete(raw, metadataKey)
	}
	for name, msg := range raw {
		var e struct {
			Dtype       string  `json:"dtype"`
			Shape       []int64 `json:"shape"`
			DataOffsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, 0, fmt.Errorf("corrupt header: tensor %s: %v", name, oneLine(err))
		}
		es := dtypeSize(e.Dtype)
		if es == 0 {
			return nil, nil, 0, fmt.Errorf("tensor %s has dtype %q, supported: F32, F64, F16, BF16", name, e.Dtype)
		}
		if len(e.DataOffsets) != 2 {
			return nil, nil, 0, fmt.Errorf("corrupt header: tensor %s has %d data_offsets, want 2", name, len(e.DataOffsets))
		}
		b, en := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || en < b {
			return nil, nil, 0, fmt.Errorf("corrupt header: tensor %s has data_offsets [%d %d]", name, b, en)
		}
		if en > dataLen {
			return nil, nil, 0, fmt.Errorf("truncated file: tensor %s ends at data byte %d, the file holds %d", name, en, dataLen)
		}
		shape := make([]int, len(e.Shape))
		zero := false
		for i, d := range e.Shape {
			if d < 0 || d > math.MaxInt32*int64(1<<20) {
				return nil, nil, 0, fmt.Errorf("corrupt header: tensor %s has shape %v", name, e.Shape)
			}
			zero = zero || d == 0
			shape[i] = int(d)
		}
		elems := int64(0)
		if !zero {
			elems = 1
			for _, d := range e.Shape {
				// Checked against the byte range before multiplying, so the product cannot overflow.
				if elems > (en-b)/d {
					return nil, nil, 0, fmt.Errorf("corrupt header: tensor %s has shape %v, too large for its %d bytes", name, e.Shape, en-b)
				}
				elems *= d
			}
		}
		if elems*es != en-b {
			return nil, nil, 0, fmt.Errorf("corrupt header: tensor %s has shape %v of %s (%d bytes) but data_offsets span %d bytes", name, e.Shape, e.Dtype, elems*es, en-b)
		}
		entries = append(entries, entry{name: name, dtype: e.Dtype, shape: shape, begin: b, end: en, elemLen: es})
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].begin != entries[j].begin {
			return entries[i].begin < entries[j].begin
		}
		return entries[i].end < entries[j].end
	})
	var pos int64
	for _, e := range entries {
		if e.begin != pos {
			return nil, nil, 0, fmt.Errorf("corrupt header: tensor %s starts at data byte %d, want %d (gap or overlap)", e.name, e.begin, pos)
		}
		pos = e.end
	}
	if pos != dataLen {
		return nil, nil, 0, fmt.Errorf("corrupt file: tensors cover %d data bytes, the file holds %d", pos, dataLen)
	}
	return entries, meta, dataStart, nil
}

// decode reads the tensors.
func decode(r io.ReaderAt, size int64) (*File, error) {
	entries, meta, dataStart, err := readHeader(r, size)
	if err != nil {
		return nil, err
	}
	if meta == nil {
		meta = map[string]string{}
	}
	ts, err := readData(r, dataStart, entries, meta)
	if err != nil {
		return nil, err
	}
	f := &File{Tensors: ts, Meta: meta, DTypes: map[string]string{}}
	for _, e := range entries {
		f.DTypes[e.name] = e.dtype
	}
	return f, nil
}

// readData reads every tensor of a checked header (entries in data order, packed end to end, as
// readHeader leaves them), verifies the data checksum when meta records one, and refuses a tensor
// holding NaN or ±Inf: weights like that sample black images and resume into a run that cannot recover.
// A checksum mismatch is reported before a non-finite value, since a damaged file explains both.
func readData(r io.ReaderAt, dataStart int64, entries []entry, meta map[string]string) (map[string]*tensor.Dense, error) {
	want, checked := meta[MetaDataSHA256]
	sum := sha256.New()
	var feed io.Writer = io.Discard
	if checked {
		feed = sum
	}
	out := make(map[string]*tensor.Dense, len(entries))
	var bad error
	for _, e := range entries {
		t, err := readTensor(r, dataStart, e, feed)
		if err != nil {
			return nil, err
		}
		if bad == nil {
			bad = checkFinite(e.name, t)
		}
		out[e.name] = t
	}
	if got := hex.EncodeToString(sum.Sum(nil)); checked && got != strings.ToLower(want) {
		return nil, fmt.Errorf("data checksum mismatch: the metadata records sha256 %.12s…, the data hashes to %.12s…: "+
			"the file is damaged; copy it again or use another checkpoint", want, got)
	}
	if bad != nil {
		return nil, bad
	}
	// The checksum describes these bytes, not the content: verified, it leaves the metadata, and a
	// writer records a fresh one.
	delete(meta, MetaDataSHA256)
	return out, nil
}

// checkFinite names a tensor holding NaN or ±Inf, with how many such values and where the first is.
func checkFinite(name string, t *tensor.Dense) error {
	first, n := -1, 0
	var kind string
	note := func(i int, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if n == 0 {
				first, kind = i, fmt.Sprint(v)
			}
			n++
		}
	}
	if t.Dtype() == tensor.Float64 {
		for i, v := range t.Float64s() {
			note(i, v)
		}
	} else {
		for i, v := range t.Float32s() {
			note(i, float64(v))
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("tensor %s holds %d non-finite value(s) (the first, element %d, is %s): the weights are unusable, "+
		"from a damaged file or a diverged run; use an earlier checkpoint of the run (its checkpoints/ folder) or retrain",
		name, n, first, kind)
}

// readTensor reads one tensor's bytes, also feeding them to sum.
func readTensor(r io.ReaderAt, dataStart int64, e entry, sum io.Writer) (*tensor.Dense, error) {
	n := int((e.end - e.begin) / e.elemLen)
	buf := make([]byte, min(e.end-e.begin, 1<<20))
	var f32 []float32
	var f64 []float64
	if e.dtype == "F64" {
		f64 = make([]float64, n)
	} else {
		f32 = make([]float32, n)
	}
	idx := 0
	for off := e.begin; off < e.end; {
		chunk := buf[:min(int64(len(buf)), e.end-off)]
		if _, err := r.ReadAt(chunk, dataStart+off); err != nil {
			return nil, fmt.Errorf("read tensor %s: %w", e.name, err)
		}
		off += int64(len(chunk))
		sum.Write(chunk) // a hash or io.Discard: never fails
		for p := 0; p < len(chunk); p += int(e.elemLen) {
			switch e.dtype {
			case "F64":
				f64[idx] = math.Float64frombits(binary.LittleEndian.Uint64(chunk[p:]))
			case "F32":
				f32[idx] = math.Float32frombits(binary.LittleEndian.Uint32(chunk[p:]))
			case "F16":
				f32[idx] = halfToFloat32(binary.LittleEndian.Uint16(chunk[p:]))
			case "BF16":
				f32[idx] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(chunk[p:])) << 16)
			}
			idx++
		}
	}
	var backing any = f32
	if f64 != nil {
		backing = f64
	}
	if len(e.shape) == 0 {
		if f64 != nil {
			return tensor.New(tensor.FromScalar(f64[0])), nil
		}
		return tensor.New(tensor.FromScalar(f32[0])), nil
	}
	return tensor.New(tensor.WithShape(e.shape...), tensor.WithBacking(backing)), nil
}

// halfToFloat32 widens an IEEE 754 binary16 value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = mant · 2^-24.
		v := float32(mant) * float32(math.Ldexp(1, -24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// oneLine keeps an error on one line (JSON syntax errors can quote multi-line input).
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
