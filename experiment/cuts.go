package experiment

import (
	"fmt"
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
}

// ReadCuts reads a finished run folder's stages cut short: a stage with a step budget whose metrics
// end before it. The run folder records no cut itself, so this is read from what it does record.
func ReadCuts(runDir string) ([]Cut, error) {
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
