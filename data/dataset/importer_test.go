package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestExportImportRoundTrip(t *testing.T) {
	d := mustDataset(t, 5, 40)
	dir := filepath.Join(t.TempDir(), "out")
	var calls int
	sum, err := Export(d, dir, ExportOptions{N: 3, Res: 32, Subset: 10}, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Items != 3 || calls != 3 {
		t.Fatalf("summary %+v, progress calls %d", sum, calls)
	}
	top, _ := d.Subset(10) // ⌈40·0.1⌉ = 4 items; the export takes the first 3
	if len(top) != 4 {
		t.Fatalf("top 10%% of 40 holds %d", len(top))
	}
	top = top[:3]

	// metadata.jsonl: one record per item, in order, each reproducing the dataset exactly.
	raw, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	k := 0
	for sc.Scan() {
		var rec ExportRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		i := top[k]
		s, _ := d.Scene(i)
		caps, _ := d.Captions(i)
		if rec.Index != i || rec.FileName != filepath.Base(rec.FileName) || !strings.HasSuffix(rec.FileName, ".png") {
			t.Errorf("record %d: %+v", k, rec)
		}
		if !reflect.DeepEqual(rec.Scene, s) || rec.Captions != caps || rec.Text != caps.Detailed.En || rec.Quality != s.Quality() {
			t.Errorf("record %d does not reproduce item %d", k, i)
		}
		txt, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(rec.FileName, ".png")+".txt"))
		if err != nil || strings.TrimSpace(string(txt)) != rec.Text {
			t.Errorf("record %d: .txt %q, %v", k, txt, err)
		}
		k++
	}
	if k != 3 {
		t.Fatalf("%d metadata lines, want 3", k)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 7 {
		t.Errorf("%d files in the export, want 3 png + 3 txt + metadata", len(ents))
	}

	// Import at the export's resolution: pixel-identical images, captions and scenes back.
	set, err := ImportFolder(dir, 32)
	if err != nil {
		t.Fatal(err)
	}
	if set.Layout != "imagefolder" || len(set.Items) != 3 {
		t.Fatalf("layout %s, %d items", set.Layout, len(set.Items))
	}
	for k, it := range set.Items {
		want, _ := d.Image(top[k], 32, 32)
		caps, _ := d.Captions(top[k])
		if !bytes.Equal(it.Image.Pix, want.Pix) {
			t.Errorf("item %s: pixels changed in the round trip", it.Name)
		}
		if it.Caption != caps.Detailed.En || it.Captions != caps || it.Scene == nil || it.OrigSize != image.Pt(32, 32) {
			t.Errorf("item %s: caption/scene lost: %+v", it.Name, it.ImportEntry)
		}
	}
	// Without metadata.jsonl the same folder reads as kohya .txt sidecars.
	if err := os.Remove(filepath.Join(dir, MetadataFile)); err != nil {
		t.Fatal(err)
	}
	set, err = ImportFolder(dir, 16)
	if err != nil {
		t.Fatal(err)
	}
	if set.Layout != "kohya" || !set.Items[0].Captions.IsZero() || set.Items[0].Scene != nil {
		t.Errorf("kohya layout: %s, %+v", set.Layout, set.Items[0].ImportEntry)
	}
	caps, _ := d.Captions(top[0])
	if set.Items[0].Caption != caps.Detailed.En || set.Items[0].Image.Rect.Dx() != 16 {
		t.Errorf("kohya import: %q at %v", set.Items[0].Caption, set.Items[0].Image.Rect)
	}

	// Exporting into the now non-empty folder needs Overwrite.
	if _, err := Export(d, dir, ExportOptions{N: 1, Res: 16}, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty folder: %v", err)
	}
	if _, err := Export(d, dir, ExportOptions{N: 1, Res: 16, Overwrite: true}, nil); err != nil {
		t.Errorf("overwrite: %v", err)
	}
	for _, c := range []struct {
		opt  ExportOptions
		want string
	}{
		{ExportOptions{N: 0, Res: 16}, "at least 1"},
		{ExportOptions{N: 1, Res: 999}, "render size"},
		{ExportOptions{N: 5, Res: 16, Subset: 10}, "holds 4"},
		{ExportOptions{N: 1, Res: 16, Subset: 200}, "(0, 100]"},
	} {
		if _, err := Export(d, t.TempDir(), c.opt, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.opt, err, c.want)
		}
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
}

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportLayouts(t *testing.T) {
	dir := t.TempDir()
	red := color.RGBA{200, 30, 30, 255}
	writePNG(t, filepath.Join(dir, "a.png"), solid(40, 20, red))
	writeFile(t, filepath.Join(dir, "a.txt"), "\ufeff  a red thing \n")
	writePNG(t, filepath.Join(dir, "b.png"), solid(20, 20, red))
	writeFile(t, filepath.Join(dir, "b.json"), `{"caption": "一个红色的东西"}`)
	set, err := ImportFolder(dir, 8)
	if err != nil {
		t.Fatal(err)
	}
	if set.Layout != "mixed" || len(set.Items) != 2 {
		t.Fatalf("%s, %d items", set.Layout, len(set.Items))
	}
	if set.Items[0].Caption != "a red thing" || set.Items[1].Caption != "一个红色的东西" || set.Items[0].Source != "a.txt" || set.Items[1].Source != "b.json" {
		t.Errorf("captions %+v / %+v", set.Items[0].ImportEntry, set.Items[1].ImportEntry)
	}
	// A solid image stays solid through crop and resize.
	for _, it := range set.Items {
		for i := 0; i < len(it.Image.Pix); i += 4 {
			if it.Image.Pix[i] != red.R || it.Image.Pix[i+1] != red.G || it.Image.Pix[i+2] != red.B {
				t.Fatalf("%s: pixel %d is %v", it.Name, i/4, it.Image.Pix[i:i+4])
			}
		}
	}
	// imagefolder with a subfolder path.
	dir2 := t.TempDir()
	os.Mkdir(filepath.Join(dir2, "train"), 0o755)
	writePNG(t, filepath.Join(dir2, "train", "x.png"), solid(16, 16, red))
	writeFile(t, filepath.Join(dir2, MetadataFile), `{"file_name": "train/x.png", "text": "red"}`+"\n")
	set, err = ImportFolder(dir2, 16)
	if err != nil || len(set.Items) != 1 || set.Items[0].Name != "train/x.png" || set.Items[0].Caption != "red" {
		t.Fatalf("subfolder imagefolder: %+v, %v", set, err)
	}
}

// ResizeSquare centre-crops the longer side and filters when shrinking.
func TestResizeSquare(t *testing.T) {
	// 60×30: red borders 15 px wide left and right, blue centre. The centre crop is all blue.
	img := solid(60, 30, color.RGBA{0, 0, 255, 255})
	for y := range 30 {
		for x := range 60 {
			if x < 15 || x >= 45 {
				img.SetRGBA(x, y, color.RGBA{255, 0, 0, 255})
			}
		}
	}
	out := ResizeSquare(img, 30)
	for i := 0; i < len(out.Pix); i += 4 {
		if out.Pix[i] > 8 || out.Pix[i+2] < 247 {
			t.Fatalf("crop: pixel %d is %v, want blue", i/4, out.Pix[i:i+4])
		}
	}
	// A 1-px checkerboard shrunk 4× is grey everywhere (an aliasing resize would keep black or white).
	cb := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			if (x+y)%2 == 0 {
				cb.Pix[y*64+x] = 255
			}
		}
	}
	out = ResizeSquare(cb, 16)
	for i := 0; i < len(out.Pix); i += 4 {
		if v := int(out.Pix[i]); v < 100 || v > 155 {
			t.Fatalf("shrink: pixel %d is %d, want about 128", i/4, v)
		}
	}
}

func TestImportBadInputs(t *testing.T) {
	good := func(dir, name string) {
		writePNG(t, filepath.Join(dir, name+".png"), solid(16, 16, color.RGBA{1, 2, 3, 255}))
		writeFile(t, filepath.Join(dir, name+".txt"), "fine")
	}
	var pngBytes bytes.Buffer
	png.Encode(&pngBytes, solid(32, 32, color.RGBA{9, 9, 9, 255}))
	cases := []struct {
		name  string
		setup func(dir string)
		want  []string // all must appear in the error
	}{
		{"corrupt png", func(dir string) {
			writeFile(t, filepath.Join(dir, "bad.png"), "this is not a png")
			writeFile(t, filepath.Join(dir, "bad.txt"), "x")
		}, []string{"bad.png", "not a readable image"}},
		{"truncated png", func(dir string) {
			writeFile(t, filepath.Join(dir, "cut.png"), string(pngBytes.Bytes()[:pngBytes.Len()/2]))
			writeFile(t, filepath.Join(dir, "cut.txt"), "x")
		}, []string{"cut.png", "corrupt png"}},
		{"missing caption", func(dir string) {
			writePNG(t, filepath.Join(dir, "lonely.png"), solid(16, 16, color.RGBA{}))
		}, []string{"lonely.png", "no caption"}},
		{"non-utf8 caption", func(dir string) {
			writePNG(t, filepath.Join(dir, "latin.png"), solid(16, 16, color.RGBA{}))
			writeFile(t, filepath.Join(dir, "latin.txt"), "caf\xe9")
		}, []string{"latin.png", "latin.txt", "not valid UTF-8"}},
		{"unreadable caption", func(dir string) {
			writePNG(t, filepath.Join(dir, "d.png"), solid(16, 16, color.RGBA{}))
			os.Mkdir(filepath.Join(dir, "d.txt"), 0o755) // a folder where the caption should be
		}, []string{"d.png", "d.txt", "unreadable"}},
		{"empty caption", func(dir string) {
			writePNG(t, filepath.Join(dir, "e.png"), solid(16, 16, color.RGBA{}))
			writeFile(t, filepath.Join(dir, "e.txt"), " \n\t")
		}, []string{"e.png", "empty"}},
		{"json sidecar without text", func(dir string) {
			writePNG(t, filepath.Join(dir, "j.png"), solid(16, 16, color.RGBA{}))
			writeFile(t, filepath.Join(dir, "j.json"), `{"seed": 4}`)
		}, []string{"j.png", `no "text"`}},
		{"metadata problems", func(dir string) {
			writeFile(t, filepath.Join(dir, MetadataFile), strings.Join([]string{
				`{"file_name": "ghost.png", "text": "boo"}`,
				`not json`,
				`{"file_name": "../up.png", "text": "x"}`,
				"{\"file_name\": \"ok.png\", \"text\": \"caf\xe9\"}",
			}, "\n"))
			writePNG(t, filepath.Join(dir, "ok.png"), solid(16, 16, color.RGBA{}))
		}, []string{"metadata.jsonl:1", "ghost.png", "metadata.jsonl:2", "metadata.jsonl:3", "outside", "metadata.jsonl:4", "UTF-8", "ok.png: no caption"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			good(dir, "fine")
			c.setup(dir)
			_, err := ImportFolder(dir, 16)
			if err == nil {
				t.Fatal("no error")
			}
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Errorf("error %T is not an ImportError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "fine.png") {
				t.Errorf("error blames the good file: %v", err)
			}
		})
	}
	// Several bad files are all reported at once.
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "p.png"), solid(16, 16, color.RGBA{}))
	writePNG(t, filepath.Join(dir, "q.png"), solid(16, 16, color.RGBA{}))
	_, err := ImportFolder(dir, 16)
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Problems) != 2 {
		t.Errorf("two missing captions: %v", err)
	}
	// Folder-level problems.
	if _, err := ImportFolder(filepath.Join(dir, "nope"), 16); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing folder: %v", err)
	}
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "readme.txt"), "hi")
	if _, err := ImportFolder(empty, 16); err == nil || !strings.Contains(err.Error(), "no images") {
		t.Errorf("no images: %v", err)
	}
	if _, err := ImportFolder(dir, 4); err == nil || !strings.Contains(err.Error(), "resolution 4") {
		t.Errorf("res 4: %v", err)
	}
	if _, err := ImportFolder(filepath.Join(dir, "p.png"), 16); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("file as folder: %v", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	for _, s := range []string{"first", "second"} {
		if err := WriteFileAtomic(p, []byte(s)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != s {
			t.Fatalf("read %q, want %q", b, s)
		}
	}
	ents, _ := os.ReadDir(dir)
	if names := func() (n []string) {
		for _, e := range ents {
			n = append(n, e.Name())
		}
		return
	}(); !slices.Equal(names, []string{"f.txt"}) {
		t.Errorf("folder holds %v, want only f.txt", names)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f.txt"), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("write into a missing folder: %v", err)
	}
}

// TestImportListsEveryKindOfProblem: caption problems do not hide image problems; the message lists
// every problem up to its bound and counts the rest.
func TestImportListsEveryKindOfProblem(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "lonely.png"), solid(16, 16, color.RGBA{}))
	writeFile(t, filepath.Join(dir, "broken.png"), "not a png")
	writeFile(t, filepath.Join(dir, "broken.txt"), "a red circle")
	writeFile(t, filepath.Join(dir, "both.png"), "not a png either")
	_, err := ImportFolder(dir, 16)
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Problems) != 4 {
		t.Fatalf("want 4 problems (2 without captions, 2 unreadable), got %v", err)
	}
	for _, w := range []string{"lonely.png: no caption", "broken.png: not a readable image", "both.png: no caption", "both.png: not a readable image"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not list %q:\n%v", w, err)
		}
	}
	for i := 0; i < 30; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("bad%02d.png", i)), "x")
	}
	_, err = ImportFolder(dir, 16)
	if !errors.As(err, &ie) || len(ie.Problems) != 64 || !strings.Contains(err.Error(), "64 problem(s)") ||
		!strings.Contains(err.Error(), "… and 44 more") || strings.Count(err.Error(), "\n") != 21 {
		t.Errorf("64 problems: %v", err)
	}
}
