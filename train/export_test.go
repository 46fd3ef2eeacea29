package train

import "testing"

// The runner's test fixtures, for the tests in package train_test that drive the real networks.

// ShortPreset is testPreset and RunnerFor newRunner, for package train_test.
func ShortPreset(t *testing.T) *Preset { return testPreset(t) }

func RunnerFor(t *testing.T, m Model, p *Preset, dir string, stage int, resume bool) *Runner {
	return newRunner(t, m, p, dir, stage, resume)
}

// ReadCurve and SameCurve compare two runs' metrics bit for bit.
func ReadCurve(t *testing.T, dir string) []curvePoint { return readCurve(t, dir) }
func SameCurve(t *testing.T, want, got []curvePoint)  { sameCurve(t, want, got) }
func (r *Runner) StopRequested() bool                 { return r.stopRequested() }
