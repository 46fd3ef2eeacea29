package ablation

// The sweep folder's records: one JSON line per finished image, appended whole and synced only after the
// image and its sidecar are on disk, so the file always lists exactly the images that are complete; a
// line cut short by a crash is the last one and is dropped on the next read.

import (
	"fmt"
	"path/filepath"

	"github.com/lumina-workbench/lumina/sweep"
)

// Sweep folder names.
const (
	GridFile    = "grid.yaml"
	ResultsFile = "results.jsonl"
	ImagesDir   = "images"
	SummaryMD   = "summary.md"
	SummaryCSV  = "summary.csv"
)

// Result is one image of a sweep: a line of the results file.
type Result struct {
	Cell     string  `json:"cell"`
	Settings Setting `json:"settings"`
	PromptID string  `json:"prompt_id"`
	Prompt   string  `json:"prompt"`
	Category string  `json:"category"`
	// Seed is the image's seed index (0 … seeds−1); NoiseSeed the sampler's seed, seed·P + prompt index
	// for a grid of P prompts (as `lumina eval --repeats` numbers them).
	Seed      int     `json:"seed"`
	NoiseSeed uint64  `json:"noise_seed"`
	NFE       int     `json:"nfe"`
	Forwards  int     `json:"forwards"`
	Skips     int     `json:"teacache_skips"`
	WallMs    float64 `json:"wall_ms"`
	Score     float64 `json:"score"`
	// Clipped and Sharpness are the image's measures of over-saturation and blur (Clipped, Sharpness).
	Clipped   float64 `json:"clipped"`
	Sharpness float64 `json:"sharpness"`
	// MSE and PSNR compare the image with the reference cell's image of the same prompt and seed; PSNR
	// is absent when they are identical.
	MSE   float64  `json:"mse"`
	PSNR  *float64 `json:"psnr_db,omitempty"`
	Image string   `json:"image"` // relative to the sweep folder
}

// Key identifies an image within a grid.
type Key struct {
	Cell   string
	Prompt string
	Seed   int
}

// Key is r's image key.
func (r Result) Key() Key { return Key{r.Cell, r.PromptID, r.Seed} }

// ImagePath is where a sweep folder keeps an image (relative to the folder); its sidecar is beside it.
func ImagePath(k Key) string {
	return filepath.Join(ImagesDir, k.Cell, fmt.Sprintf("%s-s%d.png", k.Prompt, k.Seed))
}

// Shard is one part of a grid's work: images whose (prompt, seed) group g = seed·P + prompt index has
// g mod Count == Index. All cells of a prompt and seed fall in the same shard, so each shard makes its own
// reference images; Count 0 is the whole grid.
type Shard = sweep.Shard

// MaxShards bounds --shard and --shards.
const MaxShards = sweep.MaxShards

// ParseShard reads "I/N" (0 ≤ I < N).
func ParseShard(s string) (Shard, error) { return sweep.ParseShard(s) }

// results file names: results.jsonl, or results.shard-I-of-N.jsonl.
const resultsStem, resultsExt = "results", ".jsonl"

// resultsName is the shard's results file.
func resultsName(s Shard) string { return s.FileName(resultsStem, resultsExt) }

// readResults reads a results file; see sweep.ReadRecords.
func readResults(path string) (rs []Result, good int64, err error) {
	return sweep.ReadRecords(path, func(r Result) bool { return r.Cell != "" })
}

// ReadAll reads every results file of a sweep folder, the whole grid's and every shard's, refusing an
// image recorded twice (naming both files).
func ReadAll(dir string) ([]Result, error) {
	return sweep.ReadAllRecords(dir, resultsStem, resultsExt, func(r Result) bool { return r.Cell != "" }, Result.Key,
		func(r Result, first, second string) error {
			return fmt.Errorf("sweep folder %s: image %s/%s seed %d is recorded in both %s and %s: a grid's shards must not overlap (were two shard counts mixed?); remove one folder's results and resume",
				dir, r.Cell, r.PromptID, r.Seed, first, second)
		})
}
