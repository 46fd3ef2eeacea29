package experiment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/lumina-workbench/lumina/train"
)

// Shipped lists the shipped experiments' names (train/experiments/*.yaml).
func Shipped() []string { return train.ExperimentNames() }

// ShippedExperiment parses the shipped experiment name.
func ShippedExperiment(name string) (*Experiment, error) {
	b, err := train.ExperimentFile(name)
	if err != nil {
		return nil, err
	}
	return Parse(b, "train/experiments/"+name+".yaml (shipped)")
}

// Load reads the command's FILE argument: an experiment file, or else a shipped experiment's name.
func Load(arg string) (*Experiment, error) {
	if _, err := os.Stat(arg); err == nil {
		return Read(arg)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("experiment %s: %w", arg, err)
	}
	if slices.Contains(Shipped(), arg) {
		return ShippedExperiment(arg)
	}
	return nil, fmt.Errorf("experiment %s: no such file, nor a shipped experiment (shipped: %s)", arg, strings.Join(Shipped(), ", "))
}
