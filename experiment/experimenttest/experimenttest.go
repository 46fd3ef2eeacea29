// Package experimenttest writes experiment folders by hand, as `lumina experiment` leaves them, for
// the tests of what reads them (the summary, the TUI's Experiments view) without training anything.
package experimenttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/experiment"
	"github.com/lumina-workbench/lumina/train"
)

// Source is a two-variant, two-seed experiment with one ToyEval'd DiT stage (low-res, 25 steps).
const Source = `name: lr
description: low-res learning rate
base: tiny-cpu
common:
  data: {items: 200}
  samples: {prompts: []}
  eval: {suite: quick}
  stages:
    - {name: high-res, skip: true}
    - {name: hq-tune, skip: true}
steps:
  text-encoder: 3
  low-res: 25
seeds: [1, 2]
variants:
  fast:
    stages: [{name: low-res, lr: 0.002}]
  slow:
    stages: [{name: low-res, lr: 0.0005}]
`

// Write makes the experiment folder dir with its first finished runs (in training order) done and
// recorded; the rest have no folder yet. Variant v's loss at step i is 2/(i+1) + v/2 (plus a
// seed-dependent 0.1·seed), its ToyEval scores alternate 0 and 1 (variant 0) or are all 1 (variant 1).
func Write(t testing.TB, dir string, finished int) *experiment.Experiment {
	t.Helper()
	e, err := experiment.Parse([]byte(Source), "lr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := experiment.WriteSource(dir, e); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var records, progress []byte
	line := func(buf []byte, v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return append(append(buf, b...), '\n')
	}
	for i, r := range e.Runs()[:finished] {
		vi := i % len(e.Variants)
		rd := filepath.Join(dir, r.Folder())
		rf, err := train.OpenRunFolder(rd, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := rf.WriteConfig(e.Preset(r)); err != nil {
			t.Fatal(err)
		}
		var metrics []byte
		for s := range 3 {
			metrics = line(metrics, train.MetricsRecord{Time: t0.Add(time.Duration(s) * time.Second), Stage: 0, Step: s + 1, Loss: 9})
		}
		for s := range 25 {
			loss := 2/float64(s+1) + float64(vi)/2 + 0.1*float64(r.Seed)
			metrics = line(metrics, train.MetricsRecord{Time: t0.Add(time.Duration(10+s) * time.Second), Stage: 1, StageName: "low-res", Step: s + 1, Loss: loss})
		}
		if err := os.WriteFile(filepath.Join(rd, train.MetricsFile), metrics, 0o644); err != nil {
			t.Fatal(err)
		}
		scores := make([]float64, 18) // the quick suite's prompts
		for p := range scores {
			if vi == 1 || p%2 == 0 {
				scores[p] = 1
			}
		}
		if err := rf.WriteJSON(filepath.Join(rd, train.EvalDir, "s1-quick.json"), toyeval.Report{Scores: scores}); err != nil {
			t.Fatal(err)
		}
		rf.Close()
		records = line(records, experiment.Record{Variant: r.Variant, Seed: r.Seed, Dir: r.Folder(), WallS: 35})
		progress = line(progress, map[string]any{"time": t0.Add(time.Duration(i+1) * time.Minute), "kind": "run_done", "event": map[string]any{"Index": i}})
	}
	for name, b := range map[string][]byte{"runs.jsonl": records, "progress.jsonl": progress} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}
