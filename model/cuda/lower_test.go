package cuda

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/textenc"
)

func trainingStep(t *testing.T, cfg arch.Config, s model.Shape) *model.FlowLoss {
	t.Helper()
	fl, err := model.RandomStep(cfg, tensor.Float32, s, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	return fl
}

// TestLoweredTrainingStepMatchesHost runs a whole training step's lowering (two forwards, the loss,
// every gradient) on the emulator and compares the loss and every parameter gradient with the host
// executor, which is bit-identical to Gorgonia's machine: max |device − host| / max |host| per tensor
// ≤ 1e-4 (float32 sums in another order).
func TestLoweredTrainingStepMatchesHost(t *testing.T) {
	cfg, err := arch.LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cross := cfg
	cross.TextInjection = arch.TextCross
	for _, c := range []arch.Config{cfg, cross} {
		t.Run(c.Injection(), func(t *testing.T) { loweredStepMatchesHost(t, c) })
	}
}

func loweredStepMatchesHost(t *testing.T, cfg arch.Config) {
	fl := trainingStep(t, cfg, model.Shape{Batch: 2, Height: 16, Width: 16, CapLen: 8})
	matchesHost(t, fl.Outputs())
}

// matchesHost requires every output of outs' program, run on the emulator, within 1e-4 of the host
// executor's (relative to its largest magnitude).
func matchesHost(t *testing.T, outs G.Nodes) {
	t.Helper()
	worst, at, err := CompareWithHost(NewEmulator(), outs)
	if err != nil {
		t.Fatal(err)
	}
	if !(worst <= 1e-4) {
		t.Errorf("%s: relative error %.3g", at.Name(), worst)
	}
	t.Logf("worst relative error over %d outputs: %.2g", len(outs), worst)
}

// TestLoweredArgumentsMatchKernelSignatures checks every launch of a lowered training step against the
// parameter types declared in kernels/*.cu: a pointer for each pointer (a double array at an even
// offset), a Go int for each C int, int64 for long long and float64 for double. A mismatch would pass
// garbage, or a misaligned address, on a GPU.
func TestLoweredArgumentsMatchKernelSignatures(t *testing.T) {
	sigs := cudaSignatures(t)
	cfg, _ := arch.LookupConfig("tiny")
	fl := trainingStep(t, cfg, model.Shape{Batch: 2, Height: 16, Width: 16, CapLen: 8})
	p, err := fl.Program()
	if err != nil {
		t.Fatal(err)
	}
	if p.ArenaSize%2 == 0 {
		p.ArenaSize++ // an odd arena: the workspace after it must still hold doubles at even offsets
	}
	l, err := Lower(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	checkSignatures(t, l, sigs, seen)
	cross := cfg
	cross.TextInjection = arch.TextCross
	xfl := trainingStep(t, cross, model.Shape{Batch: 2, Height: 16, Width: 16, CapLen: 8})
	if p, err = xfl.Program(); err != nil {
		t.Fatal(err)
	}
	if l, err = Lower(p, nil); err != nil {
		t.Fatal(err)
	}
	checkSignatures(t, l, sigs, seen)
	c, _ := arch.LookupLMConfig("tiny", 61)
	lm, err := textenc.RandomLMStep(c, tensor.Float32, 12, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	if p, err = lm.Program(); err != nil {
		t.Fatal(err)
	}
	if l, err = Lower(p, nil); err != nil {
		t.Fatal(err)
	}
	checkSignatures(t, l, sigs, seen)
	t.Logf("%d kernels launched", len(seen))
}

// checkSignatures checks l's launches against the kernels' declared parameters, noting each kernel in seen.
func checkSignatures(t *testing.T, l *Lowered, sigs map[string][]string, seen map[string]bool) {
	t.Helper()
	for _, s := range l.Steps {
		if s.Kind != KernelStep {
			continue
		}
		sig, ok := sigs[s.Name]
		if !ok {
			t.Fatalf("launch of %s, which kernels/*.cu does not define", s.Name)
		}
		if len(sig) != len(s.Args) {
			t.Fatalf("%s: %d arguments, the kernel declares %d", s.Name, len(s.Args), len(sig))
		}
		for i, a := range s.Args {
			var got string
			switch a := a.(type) {
			case Ptr:
				got = "ptr"
				if sig[i] == "double ptr" && !a.IsNull() && a.Off%2 != 0 {
					t.Fatalf("%s argument %d: a double array at odd offset %d (misaligned on a GPU)", s.Name, i, a.Off)
				}
				if sig[i] == "double ptr" {
					got = "double ptr"
				}
			case int:
				got = "int"
			case int64:
				got = "long long"
			case float64:
				got = "double"
			default:
				got = "?"
			}
			if got != sig[i] {
				t.Fatalf("%s argument %d: %s (%T), the kernel declares %s", s.Name, i, got, a, sig[i])
			}
		}
		seen[s.Name] = true
	}
}

// cudaSignatures parses the parameter types of every extern "C" kernel in kernels/*.cu.
func cudaSignatures(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kernels", "*.cu"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no kernels: %v", err)
	}
	re := regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)
	out := map[string][]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			var types []string
			for _, prm := range strings.Split(m[2], ",") {
				prm = strings.Join(strings.Fields(prm), " ")
				switch {
				case strings.Contains(prm, "double *"):
					types = append(types, "double ptr")
				case strings.Contains(prm, "*"):
					types = append(types, "ptr")
				case strings.HasPrefix(prm, "long long "):
					types = append(types, "long long")
				case strings.HasPrefix(prm, "int "):
					types = append(types, "int")
				case strings.HasPrefix(prm, "double "):
					types = append(types, "double")
				default:
					t.Fatalf("%s: parameter %q of an unknown type", m[1], prm)
				}
			}
			out[m[1]] = types
		}
	}
	return out
}

// TestLoweredTextEncoderStepMatchesHost is the text encoder's training step (embedding, causal
// attention, the next-token cross-entropy over a padded batch) lowered and emulated, against the host
// executor: the loss and every gradient.
func TestLoweredTextEncoderStepMatchesHost(t *testing.T) {
	c, err := arch.LookupLMConfig("tiny", 61)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := textenc.RandomLMStep(c, tensor.Float32, 12, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	matchesHost(t, lm.Outputs())
}
