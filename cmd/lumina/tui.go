package main

import (
	"fmt"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/tui"
)

// tuiDatasetSize is how many procedural scenes the Data view browses when no dataset is given.
const tuiDatasetSize = 10_000

// runTUI opens the workbench. The root command builds deps from the shipped checkpoint (Sampler),
// the trainer and the run store; a nil Scenes gets the default procedural dataset.
func runTUI(deps tui.Deps) error {
	if deps.Scenes == nil {
		ds, err := dataset.New(1, tuiDatasetSize, world.DefaultSamplerConfig())
		if err != nil {
			return fmt.Errorf("tui dataset: %w", err)
		}
		deps.Scenes = ds
	}
	return tui.Run(deps)
}
