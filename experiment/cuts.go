package experiment

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/lumina-workbench/lumina/train"
)

// Cut is a stage that ended before its step budget: its wall-clock cap (minutes) came first, so its
// step count, and the run's curve after it, depend on the machine.
type Cut struct {
	Stage  int    `json:"stage"`
	Name   string `json:"name"`
	Steps  int    `json:"steps"`  // trained
	Budget int    `json:"budget"` // the stage's steps
	// Minutes is the cap that cut the stage (0 when read from the metrics of a folder that does not
	// record its stages).
	Minutes float64 `json:"minutes,omitempty"`
}

// ReadCuts reads a finished run folder's stages cut short, from the folder's record of how each
// stage ended (train.StagesFile); a folder without that record is read from its metrics: a stage with
// a step budget whose metrics end before it.
func ReadCuts(runDir string) ([]Cut, error) {
	stages, err := train.ReadStages(filepath.Join(runDir, train.StagesFile))
	if err == nil {
		var out []Cut
		for _, s := range stages {
			if s.Cut {
				out = append(out, Cut{Stage: s.Stage, Name: s.StageName, Steps: s.Steps, Budget: s.Budget, Minutes: s.Minutes})
			}
		}
		return out, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	p, recs, err := readFolder(runDir)
	if err != nil {
		return nil, err
	}
	return cutsOf(p, recs), nil
}

// readFolder reads a run folder's recipe and metrics.
func readFolder(dir string) (*train.Preset, []train.MetricsRecord, error) {
	p, ok, err := train.ReadConfig(dir)
	if err != nil || !ok {
		return nil, nil, fmt.Errorf("run folder %s: no readable %s (%v)", dir, train.ConfigFile, err)
	}
	recs, err := train.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		return nil, nil, err
	}
	return p, recs, nil
}

func cutsOf(p *train.Preset, recs []train.MetricsRecord) []Cut {
	last := map[int]int{}
	for _, r := range recs {
		last[r.Stage] = max(last[r.Stage], r.Step)
	}
	var out []Cut
	for i, s := range p.Stages {
		if s.Skip || s.Steps == 0 {
			continue
		}
		if n := last[i]; n < s.Steps {
			out = append(out, Cut{Stage: i, Name: s.Name, Steps: n, Budget: s.Steps})
		}
	}
	return out
}
