package ablation

// What a reader of sweep folders needs without drawing anything: the pictures' names, the folders under
// a root, and a summary of the images made so far while a sweep still runs.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ParetoFile is a finished sweep's speed/quality plot (drawn by ablation/plots).
const ParetoFile = "pareto.png"

// SheetFile is a cell's contact sheet in a finished sweep's folder.
func SheetFile(cell string) string { return "sheet-" + cell + ".png" }

// SweepInfo is a sweep folder as a list shows it.
type SweepInfo struct {
	Dir  string
	Name string
	// Images is the grid's image count, Done how many the folder's results record.
	Images, Done int
	// Summarized says summary.md is there: the sweep finished (or was collected).
	Summarized bool
	// Err says why the folder could not be read (a damaged grid.yaml or results file).
	Err error
}

// ListSweeps lists the sweep folders (those holding grid.yaml) directly under root, by name; a missing
// root is an empty list.
func ListSweeps(root string) ([]SweepInfo, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list sweeps in %s: %w", root, err)
	}
	var out []SweepInfo
	for _, e := range ents {
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, GridFile)); err != nil {
			continue
		}
		out = append(out, ReadSweepInfo(dir))
	}
	slices.SortFunc(out, func(a, b SweepInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ReadSweepInfo reads a sweep folder's grid and counts its results.
func ReadSweepInfo(dir string) SweepInfo {
	si := SweepInfo{Dir: dir, Name: filepath.Base(dir)}
	g, err := ReadGrid(filepath.Join(dir, GridFile), DefaultSetting(""))
	if err != nil {
		si.Err = err
		return si
	}
	si.Images = g.Images()
	rs, err := ReadAll(dir)
	if err != nil {
		si.Err = err
		return si
	}
	si.Done = len(rs)
	_, err = os.Stat(filepath.Join(dir, SummaryMD))
	si.Summarized = err == nil
	return si
}

// SummarizeSoFar summarises the images of an unfinished sweep that every cell has made: all prompts of
// the seeds every cell has finished, or, while the first seed runs, the prompts every cell has finished
// for it (a run makes the images prompt by prompt, every cell of a prompt in turn). The intervals are
// those of that smaller grid; n is its number of images, 0 (and a nil summary) when no prompt is done by
// every cell yet. A complete sweep gives Summarize's summary.
func SummarizeSoFar(g *Grid, results []Result) (s *Summary, n int, err error) {
	if len(results) == g.Images() {
		s, err := Summarize(g, results)
		return s, len(results), err
	}
	have := map[Key]bool{}
	for _, r := range results {
		have[r.Key()] = true
	}
	complete := func(pi, seed int) bool {
		for _, c := range g.cells {
			if !have[Key{c.ID, g.Prompts[pi].ID, seed}] {
				return false
			}
		}
		return true
	}
	seeds := 0
	for seeds < g.Seeds && func() bool {
		for pi := range g.Prompts {
			if !complete(pi, seeds) {
				return false
			}
		}
		return true
	}() {
		seeds++
	}
	sub := *g
	if seeds == 0 {
		prompts := 0
		for prompts < len(g.Prompts) && complete(prompts, 0) {
			prompts++
		}
		if prompts == 0 {
			return nil, 0, nil
		}
		sub.Prompts, sub.Seeds = g.Prompts[:prompts], 1
	} else {
		sub.Seeds = seeds
	}
	inSub := map[string]bool{}
	for _, p := range sub.Prompts {
		inSub[p.ID] = true
	}
	var keep []Result
	for _, r := range results {
		if inSub[r.PromptID] && r.Seed < sub.Seeds {
			keep = append(keep, r)
		}
	}
	s, err = Summarize(&sub, keep)
	if err != nil {
		return nil, 0, err
	}
	return s, len(keep), nil
}
