package ablation

// The sweep folder's records: one JSON line per finished image, appended whole and synced only after the
// image and its sidecar are on disk, so the file always lists exactly the images that are complete; a
// line cut short by a crash is the last one and is dropped on the next read.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
type Shard struct{ Index, Count int }

// MaxShards bounds --shard and --shards.
const MaxShards = 10000

// ParseShard reads "I/N" (0 ≤ I < N).
func ParseShard(s string) (Shard, error) {
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.Index, &sh.Count); err != nil || fmt.Sprintf("%d/%d", sh.Index, sh.Count) != s {
		return Shard{}, fmt.Errorf("--shard %q: want I/N, e.g. 0/4 (shards are numbered from 0, as Slurm's array tasks are)", s)
	}
	if sh.Count < 1 || sh.Count > MaxShards || sh.Index < 0 || sh.Index >= sh.Count {
		return Shard{}, fmt.Errorf("--shard %s: want 0 ≤ I < N ≤ %d", s, MaxShards)
	}
	return sh, nil
}

// Whole reports whether the shard is the whole grid.
func (s Shard) Whole() bool { return s.Count <= 1 }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ResultsName is the shard's results file: results.jsonl, or results.shard-I-of-N.jsonl.
func (s Shard) ResultsName() string {
	if s.Whole() {
		return ResultsFile
	}
	return fmt.Sprintf("results.shard-%d-of-%d.jsonl", s.Index, s.Count)
}

// LockName is the shard's lock file: each shard has its own, so the tasks of a job array do not wait on
// one another.
func (s Shard) LockName() string {
	if s.Whole() {
		return "lock"
	}
	return fmt.Sprintf("lock.shard-%d-of-%d", s.Index, s.Count)
}

var shardResults = regexp.MustCompile(`^results\.shard-(\d+)-of-(\d+)\.jsonl$`)

// resultsFiles lists dir's results files: the whole grid's and every shard's.
func resultsFiles(dir string) (whole bool, shards []Shard, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	for _, e := range ents {
		if e.Name() == ResultsFile {
			whole = true
		}
		if m := shardResults.FindStringSubmatch(e.Name()); m != nil {
			i, _ := strconv.Atoi(m[1])
			n, _ := strconv.Atoi(m[2])
			shards = append(shards, Shard{i, n})
		}
	}
	return whole, shards, nil
}

// readResults reads a results file. A last line cut short by a crash (no newline, or not JSON) is left
// out, and good is the length of the file without it, which a writer truncates to before appending. A
// damaged line before the last is an error: the file was changed by something other than a sweep.
func readResults(path string) (rs []Result, good int64, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read results: %w", err)
	}
	line := 0
	for off := 0; off < len(b); {
		line++
		end := bytes.IndexByte(b[off:], '\n')
		last := end < 0 || off+end+1 == len(b)
		if end < 0 {
			return rs, int64(off), nil // cut short: no newline
		}
		var r Result
		if err := json.Unmarshal(b[off:off+end], &r); err != nil || r.Cell == "" {
			if last {
				return rs, int64(off), nil
			}
			return nil, 0, fmt.Errorf("results %s line %d is damaged (%v): restore the file or remove that line, then resume", path, line, err)
		}
		rs = append(rs, r)
		off += end + 1
	}
	return rs, int64(len(b)), nil
}

// appender appends result lines to a results file, each in one write and synced.
type appender struct {
	f *os.File
	// cut, when set, is called with each encoded line and may return fewer bytes to write and an error
	// to stop with (the crash tests' way to tear a line).
	cut func(line []byte) ([]byte, error)
}

// openAppender opens path for appending after truncating it to good bytes (dropping a torn last line).
func openAppender(path string, good int64) (*appender, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("results %s: drop the line cut short: %w", path, err)
	}
	if _, err := f.Seek(good, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("results %s: %w", path, err)
	}
	return &appender{f: f}, nil
}

func (a *appender) append(r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result %v: %w", r.Key(), err)
	}
	b = append(b, '\n')
	var stop error
	if a.cut != nil {
		b, stop = a.cut(b)
	}
	if _, err := a.f.Write(b); err != nil {
		return fmt.Errorf("append to %s: %w", a.f.Name(), err)
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", a.f.Name(), err)
	}
	return stop
}

func (a *appender) close() error { return a.f.Close() }

// ReadAll reads every results file of a sweep folder, the whole grid's and every shard's, refusing an
// image recorded twice (naming both files).
func ReadAll(dir string) ([]Result, error) {
	whole, shards, err := resultsFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("sweep folder %s: %w", dir, err)
	}
	names := []string{}
	if whole {
		names = append(names, ResultsFile)
	}
	slices.SortFunc(shards, func(a, b Shard) int { return a.Index - b.Index })
	for _, s := range shards {
		names = append(names, s.ResultsName())
	}
	var all []Result
	from := map[Key]string{}
	for _, n := range names {
		rs, _, err := readResults(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if prev, dup := from[r.Key()]; dup {
				return nil, fmt.Errorf("sweep folder %s: image %s/%s seed %d is recorded in both %s and %s: a grid's shards must not overlap (were two shard counts mixed?); remove one folder's results and resume",
					dir, r.Cell, r.PromptID, r.Seed, prev, n)
			}
			from[r.Key()] = n
			all = append(all, r)
		}
	}
	return all, nil
}
