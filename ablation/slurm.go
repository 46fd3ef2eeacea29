package ablation

import (
	"fmt"
	"path/filepath"

	"github.com/lumina-workbench/lumina/sweep"
)

// SlurmFile is the job-array script `lumina ablate --export slurm` writes into the sweep folder.
const SlurmFile = "sweep.sbatch"

// Slurm is what a job-array script needs: the sweep folder (absolute), the number of array tasks, the
// lumina binary and the folder the tasks run in (absolute, so that relative checkpoint paths in the
// grid resolve as they did here).
type Slurm struct {
	Dir, Exe, Workdir string
	Shards            int
}

// SlurmScript is a Slurm job array whose task k runs shard k/N of the grid in Dir/grid.yaml into Dir,
// resuming, so that a task cut short (time limit, preemption) and run again loses nothing. Each task
// writes its own results and lock file; `lumina ablate collect Dir` merges them once all have finished.
func SlurmScript(g *Grid, s Slurm) string {
	return sweep.JobArray{
		Name: "ablate-" + safeName(g.Name),
		About: []string{
			fmt.Sprintf("Sweep %s: %d cells × %d prompts × %d seeds = %d images, in %d array tasks.", g.Name, len(g.cells), len(g.Prompts), g.Seeds, g.Images(), s.Shards),
			"Submit: sbatch " + sweep.ShellWord(filepath.Join(s.Dir, SlurmFile)),
			fmt.Sprintf("Then, once every task has finished: %s ablate collect %s", sweep.ShellWord(s.Exe), sweep.ShellWord(s.Dir)),
		},
		Dir: s.Dir, Workdir: s.Workdir, Tasks: s.Shards,
		Args: []string{s.Exe, "ablate", "--grid", filepath.Join(s.Dir, GridFile), "--out", s.Dir},
	}.Script()
}

// MaxShardsFor is the most shards a grid can use: one per (prompt, seed) pair, since a pair's images
// stay together.
func (g *Grid) MaxShardsFor() int { return min(len(g.Prompts)*g.Seeds, MaxShards) }

// WriteGrid writes the resolved grid into a sweep folder (dir must exist) unless it already holds one,
// which Check has compared.
func WriteGrid(dir string, g *Grid) error {
	return writeOnce(filepath.Join(dir, GridFile), g.Marshal())
}
