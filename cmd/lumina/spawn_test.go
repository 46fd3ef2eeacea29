package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/train"
)

// A detached job starts the preset in a new folder and continues the run a folder already holds.
func TestTrainArgs(t *testing.T) {
	p := &train.Preset{Name: "tiny-cpu"}
	dir := filepath.Join(t.TempDir(), "run")
	args, err := trainArgs(train.Options{Preset: p, RunDir: dir, Stage: train.AllStages})
	if err != nil || strings.Join(args, " ") != "train --run "+dir+" --preset tiny-cpu" {
		t.Errorf("new folder: %q %v", args, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, train.ConfigFile), []byte("name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args, err = trainArgs(train.Options{Preset: p, RunDir: dir, Stage: 2})
	if err != nil || strings.Join(args, " ") != "train --run "+dir+" --resume --stage 2" {
		t.Errorf("a folder with a run: %q %v", args, err)
	}
	if _, err := trainArgs(train.Options{Preset: p}); err == nil {
		t.Error("an empty run folder was accepted")
	}
	if err := (processSpawner{}).Interrupt(0); err == nil {
		t.Error("PID 0 was signalled")
	}
}
