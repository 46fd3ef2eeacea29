package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/internal/device"
)

func init() {
	var runs, ckpt string
	cmd := &cobra.Command{
		Use:   "watch RUN_DIR",
		Short: "Open the TUI on a run folder's training, live, whoever writes it",
		Long: `Opens the workbench on the Train view following RUN_DIR as its writer (a ` + "`lumina train`" + ` in another
terminal, a detached job, a batch job) fills it: the loss history of every stage, the step count and ETAs,
sample grids and stage-end ToyEval reports. It says when the writer stops, is killed, or resumes, and reads
only: the run is not locked, slowed or changed, and quitting leaves it training. x asks a writer on this
host to stop (as Ctrl-C in its terminal: it saves a checkpoint first).`,
		Example: "  lumina watch runs/tiny-cpu\n  lumina watch --runs /scratch/runs /scratch/runs/exp3",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			st, err := os.Stat(dir)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("RUN_DIR %s: no such folder (start a run with `lumina train --run %s`)", dir, dir)
			case err != nil:
				return fmt.Errorf("RUN_DIR %s: %w", dir, err)
			case !st.IsDir():
				return fmt.Errorf("RUN_DIR %s is not a folder", dir)
			}
			deps := tuiDeps(device.Device{})
			deps.Runs = runStore{root: runs}
			deps.RunsDir = runs
			deps.Sweeper = sweeper{root: filepath.Join(runs, "sweeps"), ckpt: DefaultCheckpoint}
			deps.Watch = dir
			if ckpt != "" {
				s, err := loadSampler(ckpt, device.Device{})
				if err != nil {
					return fmt.Errorf("--ckpt: %w", err)
				}
				deps.Sampler = s
			}
			return runTUI(deps)
		},
	}
	cmd.Flags().StringVar(&runs, "runs", "runs", "folder of run folders for the train and runs views")
	cmd.Flags().StringVar(&ckpt, "ckpt", "", "checkpoint the sample view opens with (none by default: watching needs no model)")
	rootCmd.AddCommand(cmd)
}
