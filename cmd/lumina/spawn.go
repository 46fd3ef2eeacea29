package main

// Detached training jobs: the TUI starts `lumina train` as a process of its own, in a session of its
// own, so it keeps training after the TUI quits (or its terminal closes); the TUI then follows the run
// folder like any other writer's.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/backend"
)

// TrainLogFile is where a detached job's output goes, in its run folder.
const TrainLogFile = "train.log"

// processSpawner implements backend.Spawner with this binary.
type processSpawner struct {
	// exe is the lumina binary to run; "" means this one.
	exe string
}

var _ backend.Spawner = processSpawner{}

// trainArgs is the command line that trains opt: a folder that already holds a run continues it with
// its own config.yaml (as the train view's in-process jobs do), a new one starts the preset.
func trainArgs(opt train.Options) ([]string, error) {
	if opt.RunDir == "" {
		return nil, errors.New("the run folder is empty")
	}
	args := []string{"train", "--run", opt.RunDir}
	if _, err := os.Stat(filepath.Join(opt.RunDir, train.ConfigFile)); err == nil {
		args = append(args, "--resume")
	} else {
		if opt.Preset == nil {
			return nil, errors.New("no preset to train: pick one")
		}
		args = append(args, "--preset", opt.Preset.Name)
	}
	if opt.Stage != train.AllStages {
		args = append(args, "--stage", strconv.Itoa(opt.Stage))
	}
	return args, nil
}

func (s processSpawner) Spawn(ctx context.Context, opt train.Options) error {
	args, err := trainArgs(opt)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(opt.RunDir, train.ConfigFile)); err == nil {
		opt.Resume = true
		if p, ok, err := train.ReadConfig(opt.RunDir); err == nil && ok {
			opt.Preset = p
		}
	}
	// Refused here, with the holder's name, rather than in a log nobody reads.
	if err := train.CheckOptions(opt); err != nil {
		return err
	}
	exe := s.exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("find the lumina binary: %w", err)
		}
	}
	if err := os.MkdirAll(opt.RunDir, 0o755); err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	logPath := filepath.Join(opt.RunDir, TrainLogFile)
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("training log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = log, log
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", exe, err)
	}
	// Reaped while the TUI runs; after it quits, the job's new parent is.
	go cmd.Wait()
	return nil
}

func (processSpawner) Interrupt(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("no process %d", pid)
	}
	return interrupt(pid)
}
