package trainview

// The job's loss history: every step of every stage on one step axis, kept across resumes, and the
// whole job's ETA.

import (
	"fmt"
	"time"

	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/components/lossplot"
)

type histPoint struct {
	stage, step int
	loss, aux   float64
}

// loadHistory puts the steps a run folder held before the job started in front of the job's own.
func (m *Model) loadHistory(recs []train.MetricsRecord) {
	if len(m.hist) > 0 {
		return // the job's own steps came first
	}
	for _, r := range recs {
		m.hist = append(m.hist, histPoint{r.Stage, r.Step, r.Loss, r.AuxLoss})
	}
	m.syncPlot()
}

// addPoint records a step; a step at or before the last one of its stage means the stage restarted
// from an earlier checkpoint, whose later steps no longer hold.
func (m *Model) addPoint(stage, step int, loss, aux float64) {
	m.cutHistory(stage, step-1)
	m.hist = append(m.hist, histPoint{stage, step, loss, aux})
}

// cutHistory drops the steps after (stage, step).
func (m *Model) cutHistory(stage, step int) {
	n := len(m.hist)
	for n > 0 {
		p := m.hist[n-1]
		if p.stage < stage || (p.stage == stage && p.step <= step) {
			break
		}
		n--
	}
	m.hist = m.hist[:n]
}

// stageSpan is the steps a stage takes on the axis: its budget, or as many as it has run when it has
// no budget (a minutes-bounded stage) or ran past it.
func (m *Model) stageSpan(idx int) int {
	n := 0
	for _, s := range m.stages {
		if s.index == idx {
			n = s.info.Steps
		}
	}
	for _, p := range m.hist {
		if p.stage == idx {
			n = max(n, p.step)
		}
	}
	return n
}

// offsets is where each stage starts on the step axis: after every stage before it.
func (m *Model) offsets() map[int]int {
	idx := map[int]bool{}
	var order []int
	for _, s := range m.stages {
		if !idx[s.index] {
			idx[s.index] = true
			order = append(order, s.index)
		}
	}
	for _, p := range m.hist {
		if !idx[p.stage] {
			idx[p.stage] = true
			order = append(order, p.stage)
		}
	}
	// Stages in index order: the history may name one the preset did not announce.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && order[j] < order[j-1]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	off, at := map[int]int{}, 0
	for _, i := range order {
		off[i] = at
		at += m.stageSpan(i)
	}
	return off
}

// syncPlot hands the history to the plot, with a mark at each stage's start.
func (m *Model) syncPlot() {
	off := m.offsets()
	pts := make([]lossplot.Point, len(m.hist))
	seen := map[int]bool{}
	var marks []lossplot.Mark
	for i, p := range m.hist {
		pts[i] = lossplot.Point{X: float64(off[p.stage] + p.step), Loss: p.loss, Aux: p.aux}
		if !seen[p.stage] {
			seen[p.stage] = true
			marks = append(marks, lossplot.Mark{X: float64(off[p.stage]), Label: fmt.Sprintf("s%d", p.stage)})
		}
	}
	m.plot.SetSeries(pts, marks)
}

// jobETA is the time left in the whole job: the stage's ETA, and the steps of the stages still to come
// at the current stage's pace (a later stage at a higher resolution takes longer a step, so this is
// a lower bound there). ok is false until a step has an ETA.
func (m *Model) jobETA() (time.Duration, bool) {
	lm := m.last
	if lm.ETA <= 0 || lm.Steps <= lm.Step {
		return 0, false
	}
	per := lm.ETA / time.Duration(lm.Steps-lm.Step)
	total := lm.ETA
	for _, s := range m.stages {
		if s.index > lm.Stage && !s.done {
			total += per * time.Duration(max(0, s.info.Steps-s.step))
		}
	}
	return total, true
}
