package ablation

import (
	"fmt"
	"path/filepath"
	"strings"
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
	grid := filepath.Join(s.Dir, GridFile)
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# Sweep %s: %d cells × %d prompts × %d seeds = %d images, in %d array tasks.\n",
		g.Name, len(g.cells), len(g.Prompts), g.Seeds, g.Images(), s.Shards)
	fmt.Fprintf(&b, "# Submit: sbatch %s\n", shellQuote(filepath.Join(s.Dir, SlurmFile)))
	fmt.Fprintf(&b, "# Then, once every task has finished: %s ablate collect %s\n", shellQuote(s.Exe), shellQuote(s.Dir))
	fmt.Fprintf(&b, "#SBATCH --job-name=ablate-%s\n", safeName(g.Name))
	fmt.Fprintf(&b, "#SBATCH --array=0-%d\n", s.Shards-1)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(s.Dir, "slurm-%A_%a.out"))
	fmt.Fprintf(&b, "set -euo pipefail\n")
	fmt.Fprintf(&b, "cd %s\n", shellQuote(s.Workdir))
	fmt.Fprintf(&b, "exec %s ablate --grid %s --out %s --shard \"${SLURM_ARRAY_TASK_ID}/%d\" --resume\n",
		shellQuote(s.Exe), shellQuote(grid), shellQuote(s.Dir), s.Shards)
	return b.String()
}

// shellQuote quotes s for bash: single quotes, each inner one closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// MaxShardsFor is the most shards a grid can use: one per (prompt, seed) pair, since a pair's images
// stay together.
func (g *Grid) MaxShardsFor() int { return min(len(g.Prompts)*g.Seeds, MaxShards) }

// WriteGrid writes the resolved grid into a sweep folder (dir must exist) unless it already holds one,
// which Check has compared.
func WriteGrid(dir string, g *Grid) error {
	return writeOnce(filepath.Join(dir, GridFile), g.Marshal())
}
