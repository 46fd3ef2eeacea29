package main

// The command line's rendering of progress: a training run's events, and batches of images (sample,
// eval, bench), on stderr or the command's writer.

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"charm.land/bubbles/v2/progress"
	"golang.org/x/term"

	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/common"
)

// Progress renders events for a person: on a terminal, one progress bar line redrawn in place with the
// ETA; otherwise plain log lines, one per LogEvery at most (and every stage, checkpoint, warning).
type Progress struct {
	W        io.Writer
	TTY      bool
	LogEvery time.Duration
	// Width is the bar's width in cells.
	Width int

	mu      sync.Mutex // Handle and Note may come from different goroutines
	lastLog time.Time
	barOpen bool
}

// NewProgress renders to w, with the progress bar when w is a terminal.
func NewProgress(w io.Writer) *Progress {
	f, ok := w.(*os.File)
	return &Progress{W: w, TTY: ok && term.IsTerminal(int(f.Fd())), LogEvery: 10 * time.Second, Width: 30}
}

// bar is the terminal's progress bar: bubbles' progress, drawn statically.
func (p *Progress) bar() progress.Model {
	return progress.New(progress.WithWidth(max(p.Width, 5)), progress.WithoutPercentage(),
		progress.WithFillCharacters(progress.DefaultFullCharFullBlock, progress.DefaultEmptyCharBlock))
}

// fmtDur is common.Duration, with "?" for a span not known yet.
func fmtDur(d time.Duration) string {
	if d <= 0 {
		return "?"
	}
	return common.Duration(d)
}

func (p *Progress) line(format string, a ...any) {
	p.Clear()
	fmt.Fprintf(p.W, format+"\n", a...)
}

// Clear erases the bar line, so that other output can follow on a clean line; the next update redraws it.
func (p *Progress) Clear() {
	if p.barOpen {
		fmt.Fprint(p.W, "\r\033[K")
		p.barOpen = false
	}
}

// Close ends the bar line, leaving its last state on screen.
func (p *Progress) Close() {
	if p.barOpen {
		fmt.Fprintln(p.W)
		p.barOpen = false
	}
}

// show renders done of total with stats: on a terminal, label, the bar and the count redrawn in place;
// otherwise a log line starting with logLabel, at most one per LogEvery, and always the last one.
func (p *Progress) show(label, logLabel string, done, total int, stats string) {
	if p.TTY {
		bar := ""
		if total > 0 {
			bar = p.bar().ViewAs(float64(done)/float64(total)) + " "
		}
		fmt.Fprintf(p.W, "\r\033[K%s %s%d/%d %s", label, bar, done, total, stats)
		p.barOpen = true
		return
	}
	if time.Since(p.lastLog) >= p.LogEvery || (total > 0 && done == total) {
		p.lastLog = time.Now()
		p.line("%s %d/%d %s", logLabel, done, total, stats)
	}
}

// Images renders a batch of total images of which done are finished, elapsed after it began: the mean
// time per image and the ETA while it runs, the total time at the end (which also ends the bar line).
func (p *Progress) Images(label string, done, total int, elapsed time.Duration) {
	stats := "images"
	switch {
	case done >= total:
		stats += " in " + fmtDur(elapsed)
	case done > 0:
		per := elapsed / time.Duration(done)
		stats += fmt.Sprintf(", %.3g s/image, ETA %s", per.Seconds(), fmtDur(per*time.Duration(total-done)))
	default:
		stats += ", ETA ?"
	}
	p.show(label, label, done, total, stats)
	if done >= total {
		p.Close()
	}
}

// Note prints a line of its own (the bar, if drawn, is redrawn by the next step).
func (p *Progress) Note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line("%s", msg)
}

// Handle renders one event. An ErrorEvent is not rendered: the command returns the error, and main
// prints it.
func (p *Progress) Handle(ev train.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case train.StepEvent:
		aux := ""
		if e.AuxLoss != 0 {
			aux = fmt.Sprintf(" aux %.4f", e.AuxLoss)
		}
		stats := fmt.Sprintf("loss %.4f%s gn %.3g lr %.2g %.1f img/s ETA %s", e.Loss, aux, e.GradNorm, e.LR, e.ImagesPerSec, fmtDur(e.ETA))
		p.show(e.StageName, fmt.Sprintf("stage %d %s step", e.Stage, e.StageName), e.Step, e.Steps, stats)
	case train.StageStarted:
		from := ""
		if e.FromStep > 0 {
			from = fmt.Sprintf(", resuming at step %d", e.FromStep)
		}
		p.line("stage %d %s (%s) started: %d steps%s", e.Stage, e.Name, e.Kind, e.Steps, from)
	case train.StageFinished:
		eval := ""
		if e.Eval != nil {
			eval = fmt.Sprintf(", ToyEval overall %.3f", e.Eval.Overall)
			for _, c := range e.Eval.Categories {
				eval += fmt.Sprintf(" %s=%.3f", c.Name, c.Mean)
			}
		}
		cut := ""
		if e.CutByCap {
			cut = " (cut short by its wall-clock cap)"
		}
		p.line("stage %d %s finished: %d steps in %s%s%s", e.Stage, e.Name, e.Steps, fmtDur(e.Elapsed), cut, eval)
	case train.CheckpointSaved:
		p.line("checkpoint %s", e.Path)
	case train.SampleEvent:
		p.line("samples %s", e.Path)
	case train.WarningEvent:
		if e.Stage < 0 {
			p.line("warning: %s", e.Message)
		} else {
			p.line("warning: stage %d step %d: %s", e.Stage, e.Step, e.Message)
		}
	case train.PausedEvent:
		p.line("paused at stage %d step %d", e.Stage, e.Step)
	case train.ResumedEvent:
		p.line("resumed at stage %d step %d", e.Stage, e.Step)
	case train.RunFinished:
		switch {
		case e.Stopped:
			p.line("stopped; resume with --resume")
		case p.barOpen:
			p.line("") // an error printed after the run starts on a line of its own
		}
	}
}
