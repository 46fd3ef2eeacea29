// Package tui is the Bubble Tea workbench. Run opens it on the backends in Deps (the interfaces of
// package backend); cmd/lumina builds those from the real model, so the tui tree never imports Gorgonia.
package tui

import (
	"errors"
	"fmt"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/tui/app"
)

// Deps are the backends the views use; any may be nil, and the view then says what is missing.
type Deps = app.Deps

// ShutdownTimeout bounds how long Run waits, after the program has ended, for a training job it
// left running to save its checkpoint and stop.
const ShutdownTimeout = 2 * time.Minute

// Run opens the workbench on the terminal and returns when the user quits. Jobs still running when
// the program ends (killed by a signal) are stopped, and their checkpoint awaited, before it returns.
func Run(deps Deps, opts ...tea.ProgramOption) error {
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	m := app.New(deps)
	_, err := tea.NewProgram(m, opts...).Run()
	m.Shutdown(ShutdownTimeout)
	// Kept however the program ended: a person expects the prompt back after a crash too.
	if serr := m.SaveState(); serr != nil {
		fmt.Fprintln(os.Stderr, "lumina: the workbench's state was not saved:", serr)
	}
	if err != nil && !errors.Is(err, tea.ErrInterrupted) {
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}
