package experiment

import (
	"fmt"
	"path/filepath"

	"github.com/lumina-workbench/lumina/sweep"
)

// Slurm is what a job-array script needs: the experiment folder (absolute), the number of array
// tasks, the lumina binary and the folder the tasks run in (absolute).
type Slurm struct {
	Dir, Exe, Workdir string
	Shards            int
}

// MaxShards is the most shards an experiment can use: one per run.
func (e *Experiment) MaxShards() int { return min(len(e.Runs()), sweep.MaxShards) }

// SlurmScript is a job array whose task k trains shard k/N of the experiment in Dir/experiment.yaml
// into Dir, resuming, so that a task cut short and run again continues its run where it stopped.
// `lumina experiment collect Dir` writes the summary once every task has finished.
func SlurmScript(e *Experiment, s Slurm) string {
	return sweep.JobArray{
		Name: "experiment-" + e.Name,
		About: []string{
			fmt.Sprintf("Experiment %s: %d variants × %d seeds = %d runs, in %d array tasks.", e.Name, len(e.Variants), len(e.Seeds), len(e.Runs()), s.Shards),
			"Submit: sbatch " + sweep.ShellWord(filepath.Join(s.Dir, SlurmFile)),
			fmt.Sprintf("Then, once every task has finished: %s experiment collect %s", sweep.ShellWord(s.Exe), sweep.ShellWord(s.Dir)),
		},
		Dir: s.Dir, Workdir: s.Workdir, Tasks: s.Shards,
		Args: []string{s.Exe, "experiment", filepath.Join(s.Dir, SourceFile), "--out", s.Dir},
	}.Script()
}
