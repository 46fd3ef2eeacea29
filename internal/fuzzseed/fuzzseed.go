// Package fuzzseed is what the fuzz targets share: the repository's own files as seed inputs, a fuzz
// input written where the code under test reads a file, and the bytes a call allocates. Only tests
// import it.
package fuzzseed

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// Root is the module's root folder, found upward from the working directory (`go test` runs in the
// package's folder).
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			tb.Fatal("no go.mod above the working directory")
		}
		dir = up
	}
}

// Read reads a file of the repository, path relative to Root.
func Read(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(Root(tb), filepath.FromSlash(path)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Glob reads the repository's files matching pattern (relative to Root), in name order. It fails
// when nothing matches, so a moved folder cannot quietly empty a seed corpus.
func Glob(tb testing.TB, pattern string) [][]byte {
	tb.Helper()
	root := Root(tb)
	names, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no seed files match %s (%v)", pattern, err)
	}
	slices.Sort(names)
	out := make([][]byte, len(names))
	for i, n := range names {
		if out[i], err = os.ReadFile(n); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// WriteTemp writes b to a file called name in a fresh temporary folder and returns its path.
func WriteTemp(tb testing.TB, name string, b []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Allocated is how many bytes of heap f allocates. It counts the whole process, so it is exact only
// while no other goroutine allocates: true of a fuzz worker, and of a test that is not parallel.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// ShippedCheckpoint is the checkpoint the repository ships, relative to Root.
const ShippedCheckpoint = "assets/lumina-tiny.safetensors"

// CheckpointHeader reads the JSON header of a safetensors file of the repository (path relative to
// Root) and its metadata map, without the tensors.
func CheckpointHeader(tb testing.TB, path string) (header []byte, meta map[string]string) {
	tb.Helper()
	f, err := os.Open(filepath.Join(Root(tb), filepath.FromSlash(path)))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil || n > 1<<20 {
		tb.Fatalf("%s: header length %d (%v)", path, n, err)
	}
	header = make([]byte, n)
	if _, err := io.ReadFull(f, header); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return header, h.Meta
}

// pngSignature starts every PNG file.
const pngSignature = "\x89PNG\r\n\x1a\n"

// FixPNGChecksums returns a copy of b with the CRC of every whole PNG chunk recomputed, so that a
// fuzzer's change to a header field reaches the decoder instead of failing the checksum. Bytes that
// are not a PNG come back unchanged.
func FixPNGChecksums(b []byte) []byte {
	out := slices.Clone(b)
	if !bytes.HasPrefix(out, []byte(pngSignature)) {
		return out
	}
	for i := len(pngSignature); i+12 <= len(out); {
		n := int(binary.BigEndian.Uint32(out[i:]))
		end := i + 8 + n // type and data end here; the CRC follows
		if end+4 > len(out) {
			break // a chunk cut short: left as it is
		}
		binary.BigEndian.PutUint32(out[end:], crc32.ChecksumIEEE(out[i+4:end]))
		i = end + 4
	}
	return out
}

// PNGHeader is a PNG of only its signature and IHDR chunk: a header that claims a size, colour type
// and bit depth with no pixels behind it.
func PNGHeader(width, height uint32, depth, colourType, interlace byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, width)
	ihdr = binary.BigEndian.AppendUint32(ihdr, height)
	ihdr = append(ihdr, depth, colourType, 0, 0, interlace)
	b := binary.BigEndian.AppendUint32([]byte(pngSignature), uint32(len(ihdr)))
	b = append(append(append(b, "IHDR"...), ihdr...), 0, 0, 0, 0)
	return FixPNGChecksums(b)
}

// ImageAllocLimit bounds what decoding an image file of n bytes may allocate when its header claims
// pixels (capped at what the decoder accepts): 32 bytes a pixel covers the image at 16-bit colour (8),
// an interlaced PNG's passes (8 more), and the PNG decoder's current and previous rows, which for a
// one-row image are as large as the image (16); 16 MiB more covers a resize and the buffers.
func ImageAllocLimit(n int, pixels int64) uint64 {
	return 32*uint64(pixels) + 4*uint64(n) + 16<<20
}
