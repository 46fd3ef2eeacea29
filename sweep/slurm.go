package sweep

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// JobArray is a Slurm job array whose task k runs shard k/Tasks of a sweep, resuming, so that a task
// cut short (time limit, preemption) and run again loses nothing.
type JobArray struct {
	// Name is the job's name (made safe for Slurm); About are comment lines that open the script.
	Name  string
	About []string
	// Dir is the sweep folder (absolute): Slurm's output files go there. Workdir is where the tasks run
	// (absolute, so that relative paths resolve as they did where the script was written).
	Dir, Workdir string
	Tasks        int
	// Args are the command's words before --shard (quoted here where the shell needs it); the script appends
	// --shard "${SLURM_ARRAY_TASK_ID}/Tasks" --resume.
	Args []string
}

// Script is the job array's sbatch script.
func (a JobArray) Script() string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	for _, l := range a.About {
		fmt.Fprintf(&b, "# %s\n", l)
	}
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", safeName.ReplaceAllString(a.Name, "_"))
	fmt.Fprintf(&b, "#SBATCH --array=0-%d\n", a.Tasks-1)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(a.Dir, "slurm-%A_%a.out"))
	b.WriteString("set -euo pipefail\n")
	fmt.Fprintf(&b, "cd %s\n", ShellWord(a.Workdir))
	quoted := make([]string, len(a.Args))
	for i, w := range a.Args {
		quoted[i] = ShellWord(w)
	}
	fmt.Fprintf(&b, "exec %s --shard \"${SLURM_ARRAY_TASK_ID}/%d\" --resume\n", strings.Join(quoted, " "), a.Tasks)
	return b.String()
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9.+_-]`)

var plainWord = regexp.MustCompile(`^[A-Za-z0-9._/=:,+@%-]+$`)

// ShellWord is s as one bash word: as it is when nothing in it is special to the shell, else quoted.
func ShellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return ShellQuote(s)
}

// ShellQuote quotes s for bash: single quotes, each inner one closed, escaped and reopened.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
