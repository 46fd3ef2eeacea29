// Command lumina is the workbench: the TUI with no arguments, and every part of the recipe headless
// through its subcommands (train, sample, eval, data, model, ablate).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/tui"
	"github.com/lumina-workbench/lumina/tui/app"
	"github.com/lumina-workbench/lumina/tui/state"
)

// rootCmd is shared by the subcommand files; each registers itself in its own init.
var rootCmd = &cobra.Command{
	Use:   "lumina",
	Short: "A terminal workbench for the Lumina-Image 2.0 recipe",
	Long: `With no subcommand, lumina opens the TUI workbench on the checkpoint --ckpt (the shipped one by
default): sample with the paper's accelerations toggled, train through the stages with live curves, browse
the procedural data, and load any run's checkpoint. Images show inline as sixel where the terminal supports
it (LUMINA_IMAGES=sixel|halfblock|none overrides the detection), as half-blocks elsewhere.`,
	SilenceUsage:  true,
	SilenceErrors: true,
	Args:          cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		dev, err := parseDevice(rootDevice)
		if err != nil {
			return err
		}
		deps := tuiDeps(dev)
		if rootCkpt != "" {
			s, err := loadSampler(rootCkpt, dev)
			if err != nil {
				// Started outside the repository, or with a checkpoint that does not load: the rest of the
				// workbench still works, and a run's checkpoint can be loaded from the Runs view.
				deps.Page = app.PageRuns
				deps.Notice = fmt.Sprintf("no checkpoint: %v; load one from a run here (l), or pass --ckpt PATH", err)
			} else {
				deps.Sampler = s
			}
		}
		return runTUI(deps)
	},
}

// tuiDeps are the backends every TUI command opens with; on a CUDA device the sample view's model and
// the train view's jobs run there, and the status line shows it.
func tuiDeps(dev device.Device) tui.Deps {
	ckpt := rootCkpt
	if ckpt == "" {
		ckpt = DefaultCheckpoint
	}
	deps := tui.Deps{Trainer: &trainerAdapter{device: dev}, Runs: runStore{root: rootRuns, device: dev}, Spawner: processSpawner{}, RunsDir: rootRuns,
		Sweeper: sweeper{root: filepath.Join(rootRuns, "sweeps"), ckpt: ckpt}, StateDir: state.Dir(os.Getenv)}
	if dev.IsCUDA() {
		deps.Device = smiMonitor{dev}
	}
	return deps
}

// smiMonitor is the status line's device report, from nvidia-smi.
type smiMonitor struct{ d device.Device }

func (m smiMonitor) Stats(ctx context.Context) (device.Stats, error) {
	return device.NvidiaSMI(ctx, m.d)
}

var rootCkpt, rootRuns, rootDevice string

func init() {
	rootCmd.Flags().StringVar(&rootCkpt, "ckpt", DefaultCheckpoint, "checkpoint the sample view opens with (\"\" for none)")
	rootCmd.Flags().StringVar(&rootRuns, "runs", "runs", "folder of run folders for the train and runs views")
	rootCmd.Flags().StringVar(&rootDevice, "device", "cpu", device.Flag)
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "lumina:", err)
		os.Exit(1)
	}
}
