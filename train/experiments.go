package train

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// The shipped experiment files (package experiment reads them): one per training claim of the paper,
// each sized for a 2-core CPU.
//
//go:embed experiments/*.yaml
var experimentFS embed.FS

// ExperimentNames lists the shipped experiments.
func ExperimentNames() []string {
	ents, _ := fs.ReadDir(experimentFS, "experiments")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return out
}

// ExperimentFile is the shipped experiment name's file.
func ExperimentFile(name string) ([]byte, error) {
	b, err := experimentFS.ReadFile(path.Join("experiments", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("no shipped experiment %q (shipped: %s)", name, strings.Join(ExperimentNames(), ", "))
	}
	return b, nil
}
