package dataset

// Export of the procedural dataset to a folder that other tools read: one PNG and one caption .txt per
// item (kohya's convention) and a metadata.jsonl (Hugging Face imagefolder's convention), which also
// carries the scene, its quality and the captions at every granularity in both languages.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/internal/atomicfile"
)

// WriteFileAtomic writes data to path so that a reader never sees a half-written file: a temporary file
// in the same folder, synced, then renamed over path.
func WriteFileAtomic(path string, data []byte) error {
	return writeFileWith(path, data, nil)
}

// writeFileWith is WriteFileAtomic with atomicfile.Write's writer hook.
func writeFileWith(path string, data []byte, wrap func(io.Writer) io.Writer) error {
	return atomicfile.Write(path, wrap, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WritePNG encodes img to path atomically.
func WritePNG(path string, img image.Image) error {
	return writePNGWith(path, img, nil)
}

// writePNGWith is WritePNG with atomicfile.Write's writer hook.
func writePNGWith(path string, img image.Image, wrap func(io.Writer) io.Writer) error {
	return atomicfile.Write(path, wrap, func(w io.Writer) error { return png.Encode(w, img) })
}

// MetadataFile is the imagefolder index an export writes and an import reads.
const MetadataFile = "metadata.jsonl"

// ExportRecord is one line of metadata.jsonl. FileName and Text are what the imagefolder convention
// requires; the rest lets the world be reconstructed exactly.
type ExportRecord struct {
	FileName string      `json:"file_name"`
	Text     string      `json:"text"`
	Index    int         `json:"index"`
	Quality  float64     `json:"quality"`
	Scene    world.Scene `json:"scene"`
	Captions CaptionSet  `json:"captions"`
	Width    int         `json:"width"`
	Height   int         `json:"height"`
}

// ExportOptions says what to export.
type ExportOptions struct {
	// N is how many items: the first N of the chosen subset, in index order.
	N int
	// Res is the side of the square renders in pixels.
	Res int
	// Subset is the quality tier in percent (100, 10, 1 or any value in (0, 100]); 0 means 100.
	Subset float64
	// TextGranularity and TextLang pick the caption written to NAME.txt and "text".
	TextGranularity caption.Granularity
	TextLang        caption.Lang
	// Overwrite allows exporting into a folder that already holds files.
	Overwrite bool

	// wrap, when set, wraps every file's writer (tests use it to fail mid-way, as a full disk does).
	wrap func(io.Writer) io.Writer
}

// ExportSummary reports what an export wrote.
type ExportSummary struct {
	Dir      string
	Items    int
	Res      int
	MeanQual float64
}

// Export renders items of d into dir. It writes into a temporary folder beside dir and moves the result
// into place at the end, metadata.jsonl last, so a failed export (a full disk, an interrupt) leaves
// nothing behind: dir is either as it was or a complete export.
func Export(d *Dataset, dir string, opt ExportOptions, progress func(done, total int)) (sum ExportSummary, err error) {
	if err := world.CheckRenderSize(opt.Res, opt.Res); err != nil {
		return ExportSummary{}, fmt.Errorf("export: %w", err)
	}
	if opt.N < 1 {
		return ExportSummary{}, fmt.Errorf("export: item count %d must be at least 1", opt.N)
	}
	pct := opt.Subset
	if pct == 0 {
		pct = 100
	}
	idx, err := d.Subset(pct)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("export: %w", err)
	}
	if opt.N > len(idx) {
		return ExportSummary{}, fmt.Errorf("export: %d items asked for, but the top %g%% of a %d-item dataset holds %d", opt.N, pct, d.Len(), len(idx))
	}
	idx = idx[:opt.N]
	dir = filepath.Clean(dir)
	exists, err := checkExportDir(dir, opt.Overwrite)
	if err != nil {
		return ExportSummary{}, err
	}
	parent := filepath.Dir(dir)
	made, err := mkdirAll(parent)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("export: create %s: %w", parent, err)
	}
	defer func() {
		if err != nil {
			for _, d := range made {
				os.Remove(d)
			}
		}
	}()
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp*")
	if err != nil {
		return ExportSummary{}, fmt.Errorf("export into %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	// Errors name the file's place in dir: the temporary folder is gone by the time anyone reads them.
	fail := func(name string, err error) error {
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		return fmt.Errorf("export: write %s: %w", filepath.Join(dir, name), err)
	}
	var meta bytes.Buffer
	sum = ExportSummary{Dir: dir, Res: opt.Res}
	for k, i := range idx {
		sc, err := d.Scene(i)
		if err != nil {
			return ExportSummary{}, fmt.Errorf("export: %w", err)
		}
		img, err := world.Render(sc, opt.Res, opt.Res)
		if err != nil {
			return ExportSummary{}, fmt.Errorf("export item %d: %w", i, err)
		}
		caps, err := d.Captions(i)
		if err != nil {
			return ExportSummary{}, fmt.Errorf("export: %w", err)
		}
		text := caps.Get(opt.TextGranularity, opt.TextLang)
		base := fmt.Sprintf("%06d", i)
		if err := writePNGWith(filepath.Join(tmp, base+".png"), img, opt.wrap); err != nil {
			return ExportSummary{}, fail(base+".png", err)
		}
		if err := writeFileWith(filepath.Join(tmp, base+".txt"), []byte(text+"\n"), opt.wrap); err != nil {
			return ExportSummary{}, fail(base+".txt", err)
		}
		rec := ExportRecord{FileName: base + ".png", Text: text, Index: i, Quality: sc.Quality(),
			Scene: sc, Captions: caps, Width: opt.Res, Height: opt.Res}
		line, err := json.Marshal(rec)
		if err != nil {
			return ExportSummary{}, fmt.Errorf("export item %d: encode metadata: %w", i, err)
		}
		meta.Write(line)
		meta.WriteByte('\n')
		sum.Items++
		sum.MeanQual += rec.Quality
		if progress != nil {
			progress(k+1, len(idx))
		}
	}
	sum.MeanQual /= float64(sum.Items)
	if err := writeFileWith(filepath.Join(tmp, MetadataFile), meta.Bytes(), opt.wrap); err != nil {
		return ExportSummary{}, fail(MetadataFile, err)
	}
	if err := moveInto(tmp, dir, exists); err != nil {
		return ExportSummary{}, fmt.Errorf("export into %s: %w", dir, err)
	}
	return sum, nil
}

// checkExportDir refuses a dir that is not a folder, or (without overwrite) one that holds anything;
// it reports whether dir exists.
func checkExportDir(dir string, overwrite bool) (bool, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("export: %w", err)
	case !st.IsDir():
		return false, fmt.Errorf("export: %s is not a folder", dir)
	}
	if !overwrite {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return false, fmt.Errorf("export: %w", err)
		}
		if len(ents) > 0 {
			return false, fmt.Errorf("export: %s is not empty (%d entries); choose an empty folder or allow overwriting", dir, len(ents))
		}
	}
	return true, nil
}

// moveInto puts the finished export in tmp at dir: by renaming the folder when dir does not exist yet,
// otherwise file by file with metadata.jsonl last (a folder with a metadata.jsonl is a complete export),
// then removing tmp. Renames need no space, so this cannot fail for a full disk.
func moveInto(tmp, dir string, exists bool) error {
	if !exists {
		// MkdirTemp made tmp private (0700); an export is meant to be shared.
		if err := os.Chmod(tmp, 0o755); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return err
		}
		syncDir(filepath.Dir(dir))
		return nil
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		if e.Name() != MetadataFile {
			names = append(names, e.Name())
		}
	}
	for _, name := range append(names, MetadataFile) {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	syncDir(dir)
	return os.Remove(tmp)
}

// mkdirAll is os.MkdirAll that also returns the folders it created, deepest first, so that a failed
// export can take them away again.
func mkdirAll(dir string) ([]string, error) {
	var made []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		made = append(made, d)
	}
	return made, os.MkdirAll(dir, 0o755)
}

// syncDir makes the renames into dir durable where the filesystem can sync a folder.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// errNoCaption marks an image without any caption source, so callers can tell it from a broken one.
var errNoCaption = errors.New("no caption: want NAME.txt, NAME.json or an entry in " + MetadataFile)
