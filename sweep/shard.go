// Package sweep holds what sampler sweeps (ablation) and training experiments (experiment) share:
// bootstrap intervals (stats.go), shards and their file names (this file), Slurm job arrays (slurm.go)
// and append-only JSON-lines records merged across shards (jsonl.go). It builds no graphs.
package sweep

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
)

// Shard is one part of a sweep's work: the units whose group number g has g mod Count == Index. What
// a group is belongs to the caller (a (prompt, seed) pair of a sampler sweep, a (variant, seed) run of
// an experiment). Count 0 is the whole sweep.
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

// Whole reports whether the shard is the whole sweep.
func (s Shard) Whole() bool { return s.Count <= 1 }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Owns reports whether group g is this shard's.
func (s Shard) Owns(g int) bool { return s.Whole() || g%s.Count == s.Index }

// FileName is the shard's own file of a kind: stem+ext for the whole sweep, stem.shard-I-of-N+ext for a
// shard, so the tasks of a job array never write the same file.
func (s Shard) FileName(stem, ext string) string {
	if s.Whole() {
		return stem + ext
	}
	return fmt.Sprintf("%s.shard-%d-of-%d%s", stem, s.Index, s.Count, ext)
}

// LockName is the shard's lock file: each shard has its own, so the tasks of a job array do not wait on
// one another.
func (s Shard) LockName() string { return s.FileName("lock", "") }

// ListFiles lists dir's files of a kind (stem, ext as in FileName): whether the whole sweep's is there,
// and the shards whose are. A missing dir has none.
func ListFiles(dir, stem, ext string) (whole bool, shards []Shard, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(stem) + `\.shard-(\d+)-of-(\d+)` + regexp.QuoteMeta(ext) + `$`)
	for _, e := range ents {
		if e.Name() == stem+ext {
			whole = true
		}
		if m := re.FindStringSubmatch(e.Name()); m != nil {
			i, _ := strconv.Atoi(m[1])
			n, _ := strconv.Atoi(m[2])
			shards = append(shards, Shard{i, n})
		}
	}
	return whole, shards, nil
}

// CheckMode refuses to mix a whole-sweep run and shards in one folder, or shards of two counts: the
// files of dir's kind (stem, ext) must agree with s. collect names the command that merges shards.
func CheckMode(dir, stem, ext string, s Shard, collect string) error {
	whole, shards, err := ListFiles(dir, stem, ext)
	if err != nil {
		return fmt.Errorf("folder %s: %w", dir, err)
	}
	if s.Whole() && len(shards) > 0 {
		return fmt.Errorf("folder %s holds the results of shards (%s): run the remaining shards with --shard, then `%s %s`; or choose another --out",
			dir, shards[0].FileName(stem, ext), collect, dir)
	}
	if s.Whole() {
		return nil
	}
	if whole {
		return fmt.Errorf("folder %s holds a whole run's %s: continue it without --shard, or choose another --out", dir, stem+ext)
	}
	for _, o := range shards {
		if o.Count != s.Count {
			return fmt.Errorf("folder %s holds shards of %d (%s), not of %d: use --shard I/%d, or choose another --out",
				dir, o.Count, o.FileName(stem, ext), s.Count, o.Count)
		}
	}
	return nil
}
