package data

// Import of a user's folder of captioned images, in the three layouts people actually have: kohya
// (NAME.png + NAME.txt), Hugging Face imagefolder (metadata.jsonl with file_name and text) and JSON
// sidecars (NAME.json with "text", "caption" or "prompt"). Every problem is reported with the file it
// is in; nothing half-read is ever used.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	xdraw "golang.org/x/image/draw"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
)

// imageExts are the file types the importer decodes.
var imageExts = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}

// Import resolution bounds: the smallest patch grid worth training on, and what fits in memory when a
// whole folder is held decoded.
const (
	MinImportRes = 8
	MaxImportRes = 1024
	// maxImportPixels is the largest source image decoded (64 MP, 256 MiB as RGBA).
	maxImportPixels = 1 << 26
)

// ImportEntry is one image of a folder with its caption, before decoding.
type ImportEntry struct {
	// Name is the image's path relative to the folder, with forward slashes.
	Name string
	Path string
	// Caption is the text the model trains on; Source says where it came from: "metadata.jsonl:LINE",
	// "NAME.txt" or "NAME.json".
	Caption string
	Source  string
	// Captions and Scene are set when the metadata came from `lumina data export`.
	Captions CaptionSet
	Scene    *Scene
}

// ImportedItem is a decoded entry, resized to the training resolution.
type ImportedItem struct {
	ImportEntry
	Image    *image.RGBA
	OrigSize image.Point
}

// ImportedSet is a whole folder, decoded.
type ImportedSet struct {
	Dir    string
	Res    int
	Layout string // "imagefolder", "kohya", "json" or "mixed"
	Items  []ImportedItem
}

// FileProblem is one thing wrong with one file.
type FileProblem struct {
	File    string
	Problem string
}

// ImportError lists every problem found in a folder, so a user can fix them all in one go.
type ImportError struct {
	Dir      string
	Problems []FileProblem
}

// maxListedProblems keeps the message readable for a folder where everything is wrong.
const maxListedProblems = 20

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import %s: %d problem(s)", e.Dir, len(e.Problems))
	for i, p := range e.Problems {
		if i == maxListedProblems {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Problems)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %s: %s", p.File, p.Problem)
	}
	return b.String()
}

func isImageFile(name string) bool {
	return slices.Contains(imageExts, strings.ToLower(filepath.Ext(name)))
}

// metaRecord is the part of a metadata.jsonl line the importer reads; "captions" and "scene" are
// only present in our own exports.
type metaRecord struct {
	FileName string          `json:"file_name"`
	Text     *string         `json:"text"`
	Captions *CaptionSet     `json:"captions"`
	Scene    json.RawMessage `json:"scene"`
}

// ScanFolder lists the images of dir (top level, plus any subfolder paths metadata.jsonl names) and
// reads their captions, without decoding the images.
func ScanFolder(dir string) ([]ImportEntry, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("import: %s is not a folder", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	ie := &ImportError{Dir: dir}
	bad := func(file, format string, a ...any) {
		ie.Problems = append(ie.Problems, FileProblem{file, fmt.Sprintf(format, a...)})
	}

	byName := map[string]*ImportEntry{}
	var order []string
	for _, e := range ents {
		if e.Type().IsRegular() && isImageFile(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
			byName[e.Name()] = &ImportEntry{Name: e.Name(), Path: filepath.Join(dir, e.Name())}
			order = append(order, e.Name())
		}
	}

	metaPath := filepath.Join(dir, MetadataFile)
	if raw, err := os.ReadFile(metaPath); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(make([]byte, 1<<16), 1<<26)
		for line := 1; sc.Scan(); line++ {
			where := fmt.Sprintf("%s:%d", MetadataFile, line)
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			// encoding/json would quietly turn invalid UTF-8 into U+FFFD; refuse it instead.
			if !utf8.Valid(b) {
				bad(where, "not valid UTF-8")
				continue
			}
			var r metaRecord
			if err := json.Unmarshal(b, &r); err != nil {
				bad(where, "not a JSON object: %v", err)
				continue
			}
			name := filepath.ToSlash(filepath.Clean(filepath.FromSlash(r.FileName)))
			switch {
			case r.FileName == "":
				bad(where, `no "file_name"`)
				continue
			case filepath.IsAbs(r.FileName) || name == ".." || strings.HasPrefix(name, "../"):
				bad(where, "file_name %q points outside the folder", r.FileName)
				continue
			case !isImageFile(name):
				bad(where, "file_name %q is not an image (allowed: %s)", r.FileName, strings.Join(imageExts, " "))
				continue
			}
			ent := byName[name]
			if ent == nil {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
					bad(where, "file_name %q: no such image in the folder", r.FileName)
					continue
				}
				ent = &ImportEntry{Name: name, Path: p}
				byName[name] = ent
				order = append(order, name)
			}
			if ent.Source != "" {
				bad(where, "%s already has a caption at %s", name, ent.Source)
				continue
			}
			if r.Text == nil {
				bad(where, `no "text" for %s`, name)
				continue
			}
			if strings.TrimSpace(*r.Text) == "" {
				bad(where, "empty caption for %s", name)
				continue
			}
			ent.Caption, ent.Source = strings.TrimSpace(*r.Text), where
			if r.Captions != nil {
				ent.Captions = *r.Captions
			}
			if len(r.Scene) > 0 && string(r.Scene) != "null" {
				s, err := ParseSceneJSON(r.Scene)
				if err != nil {
					bad(where, "scene: %v", err)
					continue
				}
				ent.Scene = &s
			}
		}
		if err := sc.Err(); err != nil {
			bad(MetadataFile, "read: %v", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		bad(MetadataFile, "unreadable: %v", err)
	}

	if len(order) == 0 && len(ie.Problems) == 0 {
		return nil, fmt.Errorf("import %s: no images (looked for %s)", dir, strings.Join(imageExts, " "))
	}
	out := make([]ImportEntry, 0, len(order))
	for _, name := range order {
		ent := byName[name]
		if ent.Source == "" {
			if err := readSidecarCaption(ent); err != nil {
				bad(name, "%v", err)
				continue
			}
		}
		out = append(out, *ent)
	}
	if len(ie.Problems) > 0 {
		return nil, ie
	}
	slices.SortFunc(out, func(a, b ImportEntry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// readSidecarCaption looks for NAME.txt, then NAME.json, beside the image.
func readSidecarCaption(ent *ImportEntry) error {
	stem := strings.TrimSuffix(ent.Path, filepath.Ext(ent.Path))
	for _, ext := range []string{".txt", ".json"} {
		p := stem + ext
		raw, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		side := filepath.Base(p)
		if err != nil {
			return fmt.Errorf("caption %s unreadable: %v", side, err)
		}
		if !utf8.Valid(raw) {
			return fmt.Errorf("caption %s is not valid UTF-8", side)
		}
		raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // a byte-order mark some editors write
		text := string(raw)
		if ext == ".json" {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				return fmt.Errorf("caption %s is not a JSON object: %v", side, err)
			}
			text = ""
			for _, k := range []string{"text", "caption", "prompt"} {
				if s, ok := m[k].(string); ok {
					text = s
					break
				}
			}
			if text == "" {
				return fmt.Errorf(`caption %s has no "text", "caption" or "prompt" string`, side)
			}
		}
		text = strings.TrimSpace(text)
		if text == "" {
			return fmt.Errorf("caption %s is empty", side)
		}
		ent.Caption, ent.Source = text, side
		return nil
	}
	return errNoCaption
}

// ImportFolder scans dir and decodes every image, resized to res×res (shorter side scaled to res, then
// centre-cropped). It refuses the whole folder when any file has a problem, listing all of them.
func ImportFolder(dir string, res int) (*ImportedSet, error) {
	if res < MinImportRes || res > MaxImportRes {
		return nil, fmt.Errorf("import: resolution %d outside %d..%d", res, MinImportRes, MaxImportRes)
	}
	ents, err := ScanFolder(dir)
	if err != nil {
		return nil, err
	}
	set := &ImportedSet{Dir: dir, Res: res}
	ie := &ImportError{Dir: dir}
	layouts := map[string]bool{}
	for _, e := range ents {
		img, orig, err := LoadImage(e.Path, res)
		if err != nil {
			ie.Problems = append(ie.Problems, FileProblem{e.Name, err.Error()})
			continue
		}
		set.Items = append(set.Items, ImportedItem{ImportEntry: e, Image: img, OrigSize: orig})
		switch {
		case strings.HasPrefix(e.Source, MetadataFile):
			layouts["imagefolder"] = true
		case strings.HasSuffix(e.Source, ".txt"):
			layouts["kohya"] = true
		default:
			layouts["json"] = true
		}
	}
	if len(ie.Problems) > 0 {
		return nil, ie
	}
	for k := range layouts {
		if set.Layout == "" {
			set.Layout = k
		} else {
			set.Layout = "mixed"
		}
	}
	return set, nil
}

// LoadImage decodes one image and resizes it to res×res. The error names what is wrong, not the file:
// callers add the file.
func LoadImage(path string, res int) (*image.RGBA, image.Point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, image.Point{}, fmt.Errorf("unreadable: %v", err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return nil, image.Point{}, fmt.Errorf("not a readable image: %v", err)
	}
	// Refuse absurd sizes before allocating them: a corrupt header can claim gigapixels.
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width*cfg.Height > maxImportPixels {
		return nil, image.Point{}, fmt.Errorf("%s image claims size %d×%d (at most %d megapixels)", format, cfg.Width, cfg.Height, maxImportPixels>>20)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, image.Point{}, fmt.Errorf("unreadable: %v", err)
	}
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, image.Point{}, fmt.Errorf("corrupt %s image: %v", format, err)
	}
	b := img.Bounds()
	return ResizeSquare(img, res), b.Size(), nil
}

// ResizeSquare scales the shorter side to res and centre-crops the longer one. An image already res×res
// is copied exactly, so an export re-imported at its own resolution is pixel-identical.
func ResizeSquare(img image.Image, res int) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, res, res))
	if b.Dx() == res && b.Dy() == res {
		draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
		return dst
	}
	side := min(b.Dx(), b.Dy())
	crop := image.Rect(0, 0, side, side).Add(b.Min).Add(image.Pt((b.Dx()-side)/2, (b.Dy()-side)/2))
	// Catmull-Rom widens its kernel when shrinking, so a large photo is filtered, not aliased.
	xdraw.CatmullRom.Scale(dst, dst.Rect, img, crop, draw.Src, nil)
	return dst
}
