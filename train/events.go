package train

// Events: what the runner publishes for a live view (the TUI, the progress bar). Publishing never
// blocks the trainer: events go into a queue that a forwarding goroutine feeds to the consumer's
// channel. A slow consumer makes step events coalesce (an undelivered step event is replaced by the
// newer one), but every other event is kept, and the order is always the order of publication.

import (
	"sync"
	"time"

	"github.com/lumina-workbench/lumina/data/toyeval"
)

// Event is one of the types below.
type Event interface{ event() }

// StepEvent is one finished training step.
type StepEvent struct {
	Stage     int
	StageName string
	// Step is the 1-based number of steps done in the stage; Steps is the stage's step budget.
	Step, Steps int
	Loss        float64
	// AuxLoss is the auxiliary low-resolution loss (0 when the stage has none).
	AuxLoss  float64
	GradNorm float64
	LR       float64
	// ImagesPerSec is smoothed over recent steps (captions per second in a text-encoder stage).
	ImagesPerSec float64
	// ETA is the stage's estimated remaining time.
	ETA time.Duration
	// Skipped is true for a non-finite step that changed nothing.
	Skipped bool
	Time    time.Time
}

// SampleEvent says a sample grid was written.
type SampleEvent struct {
	Stage, Step int
	Path        string
}

// StageStarted opens a stage. FromStep > 0 when the stage resumes from a checkpoint.
type StageStarted struct {
	Stage    int
	Name     string
	Kind     StageKind
	Steps    int
	FromStep int
}

// StageFinished closes a stage; Eval is its end-of-stage ToyEval report (nil when none ran).
type StageFinished struct {
	Stage   int
	Name    string
	Steps   int
	Eval    *toyeval.Report
	Elapsed time.Duration
	// CutByCap is true when the stage's wall-clock cap (Stage.Minutes) ended it before its step
	// budget; a WarningEvent says so first, and StagesFile records it.
	CutByCap bool
}

// CheckpointSaved names a checkpoint that is complete on disk.
type CheckpointSaved struct {
	Stage, Step int
	Final       bool
	Path        string
}

// WarningEvent is a problem the run survives (a skipped non-finite step, a failed sample grid).
type WarningEvent struct {
	Stage, Step int
	Message     string
}

// ErrorEvent is the error that ends the run; Run returns the same error.
type ErrorEvent struct {
	Err error
}

// PausedEvent and ResumedEvent follow Pause and Resume once the step loop has noticed them.
type PausedEvent struct{ Stage, Step int }
type ResumedEvent struct{ Stage, Step int }

// RunFinished is the last event; the channel closes after it. Stopped is true when Stop or a cancelled
// context ended the run early (a checkpoint was saved). Final is the exported sampling checkpoint of a
// run that trained the preset's last stage ("" otherwise).
type RunFinished struct {
	Stopped bool
	Err     error
	Final   string
}

func (StepEvent) event()       {}
func (SampleEvent) event()     {}
func (StageStarted) event()    {}
func (StageFinished) event()   {}
func (CheckpointSaved) event() {}
func (WarningEvent) event()    {}
func (ErrorEvent) event()      {}
func (PausedEvent) event()     {}
func (ResumedEvent) event()    {}
func (RunFinished) event()     {}

// eventBus is the non-blocking publisher. Until someone subscribes, events are discarded.
type eventBus struct {
	mu         sync.Mutex
	q          []Event
	subscribed bool
	closed     bool
	coalesced  int
	notify     chan struct{}
	out        chan Event
	once       sync.Once
}

func newEventBus() *eventBus {
	return &eventBus{notify: make(chan struct{}, 1), out: make(chan Event, 16)}
}

// subscribe starts the forwarder and returns the consumer's channel (the same one on every call).
func (b *eventBus) subscribe() <-chan Event {
	b.once.Do(func() {
		b.mu.Lock()
		b.subscribed = true
		b.mu.Unlock()
		go b.forward()
	})
	return b.out
}

func (b *eventBus) publish(e Event) {
	b.mu.Lock()
	if !b.subscribed || b.closed {
		b.mu.Unlock()
		return
	}
	if _, isStep := e.(StepEvent); isStep && len(b.q) > 0 {
		if _, lastStep := b.q[len(b.q)-1].(StepEvent); lastStep {
			b.q[len(b.q)-1] = e
			b.coalesced++
			b.mu.Unlock()
			return
		}
	}
	b.q = append(b.q, e)
	b.mu.Unlock()
	b.wake()
}

func (b *eventBus) wake() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// close lets the forwarder deliver what is queued, then close the channel.
func (b *eventBus) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wake()
}

// Coalesced counts the step events replaced by newer ones because the consumer was behind.
func (b *eventBus) coalescedCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.coalesced
}

func (b *eventBus) forward() {
	for {
		b.mu.Lock()
		if len(b.q) == 0 {
			closed := b.closed
			b.mu.Unlock()
			if closed {
				close(b.out)
				return
			}
			<-b.notify
			continue
		}
		e := b.q[0]
		b.q[0] = nil
		b.q = b.q[1:]
		b.mu.Unlock()
		b.out <- e
	}
}
