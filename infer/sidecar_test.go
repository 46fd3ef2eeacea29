package infer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/toyeval"
)

// A sidecar written to JSON and read back gives the spec and the timings it was made from.
func TestSidecarRoundTrip(t *testing.T) {
	spec := Spec{Prompt: "a red circle", System: System{Template: caption.Template(1)}, Width: 32, Height: 32,
		Options: SampleOptions{Steps: 12, CFG: 7.5, Solver: SolverMidpoint, Shift: 3, Renorm: 1, Trunc: 0.8, TeaCache: 0.3, Seed: 12345}}
	res := &Result{NFE: 22, Forwards: 40, MainSkipped: 3, Total: 1500 * time.Millisecond,
		Steps: []StepInfo{{Step: 0, Of: 2, Wall: 700 * time.Millisecond}, {Step: 1, Of: 2, Wall: 800 * time.Millisecond}}}
	b, err := json.Marshal(NewSidecar(spec, res))
	if err != nil {
		t.Fatal(err)
	}
	var sc toyeval.ImageSidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	gotSpec, gotRes, err := FromSidecar(sc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotSpec, spec) {
		t.Errorf("spec %+v, want %+v", gotSpec, spec)
	}
	if gotRes.NFE != 22 || gotRes.Forwards != 40 || gotRes.MainSkipped != 3 || gotRes.Total != res.Total || len(gotRes.Steps) != 2 || gotRes.Steps[1].Wall != 800*time.Millisecond {
		t.Errorf("result %+v", gotRes)
	}
	if _, _, err := FromSidecar(toyeval.ImageSidecar{Prompt: "x"}); err == nil {
		t.Error("a sidecar without settings was read")
	}
}
