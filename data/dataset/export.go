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
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic streams a file's contents through fill, with WriteFileAtomic's guarantees.
func writeAtomic(path string, fill func(io.Writer) error) error {
	return atomicfile.Write(path, nil, fill)
}

// WritePNG encodes img to path atomically.
func WritePNG(path string, img image.Image) error {
	return writeAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
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
}

// ExportSummary reports what an export wrote.
type ExportSummary struct {
	Dir      string
	Items    int
	Res      int
	MeanQual float64
}

// Export renders items of d into dir. Every file is written atomically and metadata.jsonl last, so a
// folder with a metadata.jsonl is a complete export.
func Export(d *Dataset, dir string, opt ExportOptions, progress func(done, total int)) (ExportSummary, error) {
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ExportSummary{}, fmt.Errorf("export: create %s: %w", dir, err)
	}
	if !opt.Overwrite {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return ExportSummary{}, fmt.Errorf("export: %w", err)
		}
		if len(ents) > 0 {
			return ExportSummary{}, fmt.Errorf("export: %s is not empty (%d entries); choose an empty folder or allow overwriting", dir, len(ents))
		}
	}
	var meta bytes.Buffer
	sum := ExportSummary{Dir: dir, Res: opt.Res}
	for k, i := range idx {
		sc, err := d.Scene(i)
		if err != nil {
			return sum, fmt.Errorf("export: %w", err)
		}
		img, err := world.Render(sc, opt.Res, opt.Res)
		if err != nil {
			return sum, fmt.Errorf("export item %d: %w", i, err)
		}
		caps, err := d.Captions(i)
		if err != nil {
			return sum, fmt.Errorf("export: %w", err)
		}
		text := caps.Get(opt.TextGranularity, opt.TextLang)
		base := fmt.Sprintf("%06d", i)
		if err := WritePNG(filepath.Join(dir, base+".png"), img); err != nil {
			return sum, fmt.Errorf("export: %w", err)
		}
		if err := WriteFileAtomic(filepath.Join(dir, base+".txt"), []byte(text+"\n")); err != nil {
			return sum, fmt.Errorf("export: %w", err)
		}
		rec := ExportRecord{FileName: base + ".png", Text: text, Index: i, Quality: sc.Quality(),
			Scene: sc, Captions: caps, Width: opt.Res, Height: opt.Res}
		line, err := json.Marshal(rec)
		if err != nil {
			return sum, fmt.Errorf("export item %d: encode metadata: %w", i, err)
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
	if err := WriteFileAtomic(filepath.Join(dir, MetadataFile), meta.Bytes()); err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	return sum, nil
}

// errNoCaption marks an image without any caption source, so callers can tell it from a broken one.
var errNoCaption = errors.New("no caption: want NAME.txt, NAME.json or an entry in " + MetadataFile)
