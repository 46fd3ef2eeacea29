package dataset

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

	"github.com/lumina-workbench/lumina/data/world"
)

// imageExts are the file types the importer decodes.
var imageExts = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}

// Import resolution bounds: the smallest patch grid worth training on, and what fits in memory when a
// whole folder is held decoded.
const (
	MinImportRes = 8
	MaxImportRes = 1024
	// MaxImportPixels is the largest source image decoded (64 MP, 256 MiB as RGBA).
	MaxImportPixels = 1 << 26
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
	Scene    *world.Scene
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
	s, err := scanFolder(dir)
	if err != nil {
		return nil, err
	}
	out := s.captioned()
	if len(s.problems.Problems) > 0 {
		return nil, s.problems
	}
	return sortedEntries(out), nil
}

// scanFolder finds dir's images and reads metadata.jsonl, noting its problems in the scan.
func scanFolder(dir string) (*folderScan, error) {
	ents, err := readFolder(dir)
	if err != nil {
		return nil, err
	}
	s := newFolderScan(dir, ents)
	s.readMetadata()
	if len(s.order) == 0 && len(s.problems.Problems) == 0 {
		return nil, fmt.Errorf("import %s: no images (looked for %s)", dir, strings.Join(imageExts, " "))
	}
	return s, nil
}

func sortedEntries(es []ImportEntry) []ImportEntry {
	slices.SortFunc(es, func(a, b ImportEntry) int { return strings.Compare(a.Name, b.Name) })
	return es
}

// readFolder lists dir, which must be a folder.
func readFolder(dir string) ([]os.DirEntry, error) {
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
	return ents, nil
}

// folderScan is what a scan has found so far: the images by name and in the order they were found,
// and every problem met on the way.
type folderScan struct {
	dir      string
	byName   map[string]*ImportEntry
	order    []string
	problems *ImportError
}

// newFolderScan starts a scan of dir with the image files at its top level (hidden ones left out).
func newFolderScan(dir string, ents []os.DirEntry) *folderScan {
	s := &folderScan{dir: dir, byName: map[string]*ImportEntry{}, problems: &ImportError{Dir: dir}}
	for _, e := range ents {
		if e.Type().IsRegular() && isImageFile(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
			s.add(e.Name(), filepath.Join(dir, e.Name()))
		}
	}
	return s
}

// add records the image at path under name, its path relative to the folder.
func (s *folderScan) add(name, path string) *ImportEntry {
	ent := &ImportEntry{Name: name, Path: path}
	s.byName[name] = ent
	s.order = append(s.order, name)
	return ent
}

// bad notes a problem with file.
func (s *folderScan) bad(file, format string, a ...any) {
	s.problems.Problems = append(s.problems.Problems, FileProblem{file, fmt.Sprintf(format, a...)})
}

// readMetadata reads metadata.jsonl, when the folder has one, line by line.
func (s *folderScan) readMetadata() {
	raw, err := os.ReadFile(filepath.Join(s.dir, MetadataFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.bad(MetadataFile, "unreadable: %v", err)
		}
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	for line := 1; sc.Scan(); line++ {
		s.readMetadataLine(fmt.Sprintf("%s:%d", MetadataFile, line), bytes.TrimSpace(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		s.bad(MetadataFile, "read: %v", err)
	}
}

// readMetadataLine takes the caption, and from our own exports the captions and the scene, that one
// line of metadata.jsonl gives its image; where is the line, for the problems.
func (s *folderScan) readMetadataLine(where string, b []byte) {
	if len(b) == 0 {
		return
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; refuse it instead.
	if !utf8.Valid(b) {
		s.bad(where, "not valid UTF-8")
		return
	}
	var r metaRecord
	if err := json.Unmarshal(b, &r); err != nil {
		s.bad(where, "not a JSON object: %v", err)
		return
	}
	name, ent := s.metadataImage(where, r.FileName)
	if ent == nil {
		return
	}
	if ent.Source != "" {
		s.bad(where, "%s already has a caption at %s", name, ent.Source)
		return
	}
	if r.Text == nil {
		s.bad(where, `no "text" for %s`, name)
		return
	}
	if strings.TrimSpace(*r.Text) == "" {
		s.bad(where, "empty caption for %s", name)
		return
	}
	ent.Caption, ent.Source = strings.TrimSpace(*r.Text), where
	if r.Captions != nil {
		ent.Captions = *r.Captions
	}
	if len(r.Scene) > 0 && string(r.Scene) != "null" {
		sc, err := world.ParseSceneJSON(r.Scene)
		if err != nil {
			s.bad(where, "scene: %v", err)
			return
		}
		ent.Scene = &sc
	}
}

// metadataImage is the image a metadata line's file_name names, with its cleaned name; one in a
// subfolder joins the scan here. The entry is nil, and the problem noted, when the name is missing,
// points outside the folder or names no image in it.
func (s *folderScan) metadataImage(where, fileName string) (string, *ImportEntry) {
	name := filepath.ToSlash(filepath.Clean(filepath.FromSlash(fileName)))
	switch {
	case fileName == "":
		s.bad(where, `no "file_name"`)
		return name, nil
	case filepath.IsAbs(fileName) || name == ".." || strings.HasPrefix(name, "../"):
		s.bad(where, "file_name %q points outside the folder", fileName)
		return name, nil
	case !isImageFile(name):
		s.bad(where, "file_name %q is not an image (allowed: %s)", fileName, strings.Join(imageExts, " "))
		return name, nil
	}
	if ent := s.byName[name]; ent != nil {
		return name, ent
	}
	p := filepath.Join(s.dir, filepath.FromSlash(name))
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		s.bad(where, "file_name %q: no such image in the folder", fileName)
		return name, nil
	}
	return name, s.add(name, p)
}

// captioned is every image with its caption, in the order found; an image that metadata.jsonl left
// without one reads its sidecar file, and one without any caption is a problem and left out.
func (s *folderScan) captioned() []ImportEntry {
	out := make([]ImportEntry, 0, len(s.order))
	for _, name := range s.order {
		ent := s.byName[name]
		if ent.Source == "" {
			if err := readSidecarCaption(ent); err != nil {
				s.bad(name, "%v", err)
				continue
			}
		}
		out = append(out, *ent)
	}
	return out
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
	s, err := scanFolder(dir)
	if err != nil {
		return nil, err
	}
	ents := sortedEntries(s.captioned())
	set := &ImportedSet{Dir: dir, Res: res}
	// Caption problems do not stop the images from being decoded: the error lists every problem of
	// every kind, so that one pass over the folder fixes it.
	ie := s.problems
	for _, name := range s.order {
		if e := s.byName[name]; e.Source == "" {
			if _, _, err := LoadImage(e.Path, res); err != nil {
				ie.Problems = append(ie.Problems, FileProblem{e.Name, err.Error()})
			}
		}
	}
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

// LoadImage decodes one image (DecodeImage) and resizes it to res×res. The error names what is wrong,
// not the file: callers add the file.
func LoadImage(path string, res int) (*image.RGBA, image.Point, error) {
	img, _, err := DecodeImage(path)
	if err != nil {
		return nil, image.Point{}, err
	}
	b := img.Bounds()
	return ResizeSquare(img, res), b.Size(), nil
}

// DecodeImage decodes one image file in any format the importer reads and names the format ("png",
// "jpeg", …). A header that claims more than MaxImportPixels is refused before the image is
// allocated. The error names what is wrong, not the file.
func DecodeImage(path string) (image.Image, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("unreadable: %v", err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return nil, "", fmt.Errorf("not a readable image: %v", err)
	}
	// Refuse absurd sizes before allocating them: a corrupt header can claim gigapixels.
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width*cfg.Height > MaxImportPixels {
		return nil, "", fmt.Errorf("%s image claims size %d×%d (at most %d megapixels)", format, cfg.Width, cfg.Height, MaxImportPixels>>20)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, "", fmt.Errorf("unreadable: %v", err)
	}
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, "", fmt.Errorf("corrupt %s image: %v", format, err)
	}
	return img, format, nil
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
