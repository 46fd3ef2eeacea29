package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lumina-workbench/lumina/internal/fuzzseed"
)

// exportedSeeds exports two items the way `lumina data export` does and returns the metadata.jsonl
// lines, renamed to the images of fuzzFolder, and the first item's .txt sidecar.
func exportedSeeds(f *testing.F) (lines [][]byte, sidecar []byte) {
	dir := filepath.Join(f.TempDir(), "export")
	for _, opt := range []ExportOptions{{N: 2, Res: 16}, {N: 1, Res: 16, TextLang: 1, TextGranularity: 2, Overwrite: true}} {
		if _, err := Export(mustDataset(f, 3, 4), dir, opt, nil); err != nil {
			f.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, MetadataFile))
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(nil, 1<<20)
		for i := 0; sc.Scan(); i++ {
			var rec ExportRecord
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				f.Fatal(err)
			}
			if sidecar == nil {
				if sidecar, err = os.ReadFile(filepath.Join(dir, strings.TrimSuffix(rec.FileName, ".png")+".txt")); err != nil {
					f.Fatal(err)
				}
			}
			rec.FileName = fuzzImages[i%len(fuzzImages)]
			line, _ := json.Marshal(rec)
			lines = append(lines, line)
		}
	}
	return lines, sidecar
}

// fuzzImages are the images of fuzzFolder; sub/c.png is only found through metadata.jsonl.
var fuzzImages = []string{"a.png", "b.png", "sub/c.png"}

// Which of fuzzFolder's caption files exist, as bits of FuzzScanFolder's present argument.
const (
	hasMetadata = 1 << iota
	hasATxt
	hasBJSON
	hasBTxt
)

// fuzzFolder builds the folder FuzzScanFolder scans: the images, and the caption files present asks
// for with the fuzzed contents (b.txt holds the same text as a.txt).
func fuzzFolder(t *testing.T, meta, txt, js []byte, present uint8) string {
	dir := t.TempDir()
	var img bytes.Buffer
	png.Encode(&img, solid(2, 2, color.RGBA{1, 2, 3, 255}))
	files := map[string][]byte{}
	for _, n := range fuzzImages {
		files[n] = img.Bytes()
	}
	for bit, f := range map[uint8]struct {
		name string
		data []byte
	}{hasMetadata: {MetadataFile, meta}, hasATxt: {"a.txt", txt}, hasBJSON: {"b.json", js}, hasBTxt: {"b.txt", txt}} {
		if present&bit != 0 {
			files[f.name] = f.data
		}
	}
	for n, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// metadataText is the "text" of line n (from 1) of metadata.jsonl, as the importer splits it.
func metadataText(t *testing.T, meta []byte, n int) string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(meta))
	sc.Buffer(nil, 1<<26)
	for i := 1; sc.Scan(); i++ {
		if i == n {
			var r struct{ Text string }
			if err := json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &r); err != nil {
				t.Fatalf("line %d, which gave a caption: %v", n, err)
			}
			return r.Text
		}
	}
	t.Fatalf("no line %d", n)
	return ""
}

// FuzzScanFolder scans a folder of three images with a fuzzed metadata.jsonl, .txt and .json
// sidecars. Nothing panics. A failed scan is an ImportError whose every problem names a file of the
// folder or a line of metadata.jsonl. A scan that succeeds lists every top-level image once, in name
// order, each with a trimmed, non-empty UTF-8 caption that is exactly what its source says (a .txt
// sidecar without its byte-order mark and surrounding space, the metadata line's "text"), and any
// scene it carries is valid. Exported lines and sidecars are among the seeds, so the export → import
// round trip of captions is checked for any caption text.
func FuzzScanFolder(f *testing.F) {
	lines, sidecar := exportedSeeds(f)
	meta := append(bytes.Join(lines[:2], []byte("\n")), '\n')
	f.Add(meta, sidecar, []byte(`{"caption": "一个红色的东西"}`), uint8(hasMetadata|hasBJSON))
	f.Add(bytes.Join(lines, []byte("\r\n")), []byte("\ufeff  a red thing \n"), []byte(`{"text": 1, "prompt": "p"}`), uint8(0xff))
	f.Add(lines[2], sidecar, []byte(`{"seed": 4}`), uint8(hasMetadata|hasATxt|hasBJSON))
	f.Add([]byte(`{"file_name": "../up.png", "text": "x"}`+"\n"+`{"file_name": "sub/c.png", "text": "  "}`), []byte("caf\xe9"), []byte(`[]`), uint8(0xff))
	f.Add([]byte(`{"file_name": "sub/c.png", "text": "c", "scene": {"objects": []}}`), []byte(" \n\t"), []byte(`{"prompt": "b"}`), uint8(hasMetadata|hasBJSON|hasATxt))
	f.Fuzz(func(t *testing.T, meta, txt, js []byte, present uint8) {
		dir := fuzzFolder(t, meta, txt, js, present)
		ents, err := ScanFolder(dir)
		if err != nil {
			var ie *ImportError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("error %v is not a list of problems", err)
			}
			for _, p := range ie.Problems {
				name, _, _ := strings.Cut(p.File, ":")
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil && !slices.Contains(fuzzImages, name) {
					t.Fatalf("problem %q names %q, not a file of the folder", p.Problem, p.File)
				}
			}
			return
		}
		if !slices.IsSortedFunc(ents, func(a, b ImportEntry) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatal("entries not in name order")
		}
		names := map[string]bool{}
		for _, e := range ents {
			if names[e.Name] || !slices.Contains(fuzzImages, e.Name) {
				t.Fatalf("entry %q: repeated, or not an image of the folder", e.Name)
			}
			names[e.Name] = true
			checkEntryCaption(t, e, meta, txt, js)
			if e.Scene != nil {
				if err := e.Scene.Validate(); err != nil {
					t.Fatalf("%s: invalid scene %v", e.Name, err)
				}
			}
		}
		if !names["a.png"] || !names["b.png"] {
			t.Fatalf("top-level images missing from %v", names)
		}
	})
}

// checkEntryCaption: e's caption is trimmed, non-empty UTF-8, and what its source says.
func checkEntryCaption(t *testing.T, e ImportEntry, meta, txt, js []byte) {
	t.Helper()
	c := e.Caption
	if c == "" || strings.TrimSpace(c) != c || !utf8.ValidString(c) {
		t.Fatalf("%s: caption %q", e.Name, c)
	}
	stem := strings.TrimSuffix(e.Name, ".png")
	var want string
	switch {
	case strings.HasPrefix(e.Source, MetadataFile+":"):
		n, err := strconv.Atoi(strings.TrimPrefix(e.Source, MetadataFile+":"))
		if err != nil {
			t.Fatalf("%s: source %q", e.Name, e.Source)
		}
		want = strings.TrimSpace(metadataText(t, meta, n))
	case e.Source == stem+".txt":
		want = strings.TrimSpace(strings.TrimPrefix(string(txt), "\ufeff"))
	case e.Source == stem+".json":
		var m map[string]any
		json.Unmarshal(bytes.TrimPrefix(js, []byte("\ufeff")), &m)
		for _, k := range []string{"prompt", "caption", "text"} { // the last string found wins below
			if s, ok := m[k].(string); ok {
				want = strings.TrimSpace(s)
			}
		}
	default:
		t.Fatalf("%s: source %q", e.Name, e.Source)
	}
	if c != want {
		t.Fatalf("%s: caption %q from %s, which says %q", e.Name, c, e.Source, want)
	}
}

// FuzzLoadImage decodes fuzzed image files (PNG chunk checksums repaired, so changes to the header
// reach the decoder) at a fuzzed training resolution. Nothing panics or allocates more than the
// pixels its header claims call for (fuzzseed.ImageAllocLimit); a size past MaxImportPixels is
// refused before it is allocated; a decoded image is res×res, its original size the one its header
// claims; and one already res×res comes back pixel for pixel.
func FuzzLoadImage(f *testing.F) {
	d := mustDataset(f, 5, 4)
	for i := range 2 {
		img, err := d.Image(i, 16, 16)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encodePNG(f, img), uint8(16))
	}
	for _, img := range []image.Image{solid(3, 2, color.RGBA{9, 8, 7, 255}), image.NewGray16(image.Rect(0, 0, 8, 9)),
		image.NewPaletted(image.Rect(0, 0, 5, 5), color.Palette{color.Black, color.White}), image.NewNRGBA64(image.Rect(0, 0, 2, 1))} {
		f.Add(encodePNG(f, img), uint8(8))
	}
	f.Add(fuzzseed.PNGHeader(100000, 100000, 16, 6, 0), uint8(8))
	f.Add(fuzzseed.PNGHeader(1<<31-1, 1, 8, 2, 1), uint8(8))
	f.Add([]byte("GIF89a\xff\xff\xff\xff\x00\x00\x00;"), uint8(8))
	f.Add(fuzzseed.Read(f, "assets/fonts/glyphs.png"), uint8(32))
	f.Fuzz(func(t *testing.T, data []byte, r uint8) {
		data = fuzzseed.FixPNGChecksums(data)
		res := MinImportRes + int(r)%(64-MinImportRes+1)
		path := fuzzseed.WriteTemp(t, "image", data)
		var claimed int64
		cfg, _, cfgErr := image.DecodeConfig(bytes.NewReader(data))
		if cfgErr == nil {
			claimed = int64(cfg.Width) * int64(cfg.Height)
		}
		var img *image.RGBA
		var orig image.Point
		var err error
		limit := fuzzseed.ImageAllocLimit(len(data), min(max(claimed, 0), MaxImportPixels))
		if n := fuzzseed.Allocated(func() { img, orig, err = LoadImage(path, res) }); n > limit {
			t.Fatalf("%d bytes claiming %v allocated %d (error: %v)", len(data), cfg, n, err)
		}
		if claimed > MaxImportPixels || (cfgErr == nil && (cfg.Width < 1 || cfg.Height < 1)) {
			if err == nil {
				t.Fatalf("an image claiming %d×%d decoded", cfg.Width, cfg.Height)
			}
			return
		}
		if err != nil {
			return
		}
		if img.Rect != image.Rect(0, 0, res, res) || orig != image.Pt(cfg.Width, cfg.Height) {
			t.Fatalf("decoded to %v from %v, the header claims %d×%d", img.Rect, orig, cfg.Width, cfg.Height)
		}
		if orig == image.Pt(res, res) {
			src, _, _ := image.Decode(bytes.NewReader(data))
			for y := range res {
				for x := range res {
					if want := color.RGBAModel.Convert(src.At(src.Bounds().Min.X+x, src.Bounds().Min.Y+y)); img.At(x, y) != want {
						t.Fatalf("pixel (%d, %d) is %v, the file's %v", x, y, img.At(x, y), want)
					}
				}
			}
		}
	})
}

func encodePNG(tb testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}
