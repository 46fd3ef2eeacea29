package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/infer"
)

// shellSplit undoes infer.ShellQuote's quoting the way a POSIX shell does: words split at spaces,
// single-quoted runs taken literally, and '\” read as one quote.
func shellSplit(t *testing.T, line string) []string {
	t.Helper()
	var args []string
	var cur []rune
	inWord, quoted := false, false
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur = append(cur, r)
		case r == '\'':
			quoted, inWord = true, true
		case r == '\\' && i+1 < len(rs):
			i++
			cur, inWord = append(cur, rs[i]), true
		case r == ' ':
			if inWord {
				args = append(args, string(cur))
			}
			cur, inWord = nil, false
		default:
			cur, inWord = append(cur, r), true
		}
	}
	if quoted {
		t.Fatalf("unterminated quote in %q", line)
	}
	if inWord {
		args = append(args, string(cur))
	}
	return args
}

// The line the Sample view copies, parsed with `lumina sample`'s own flags, gives back the prompt,
// resolution and every option the view sampled with.
func TestSampleCommandLineRoundTrip(t *testing.T) {
	ck := filepath.Join(t.TempDir(), "my model's.safetensors")
	if err := os.WriteFile(ck, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	specs := []infer.Spec{
		{Prompt: "a red circle left of a blue square", Width: 32, Height: 32, Options: infer.DefaultSampleOptions()},
		{Prompt: "it's \"two\" $HOME `squares`\nand a\ttab", System: infer.System{Template: caption.TemplateB}, Width: 16, Height: 16,
			Options: infer.SampleOptions{Steps: 17, CFG: 7.25, Solver: infer.SolverFDPM, Shift: 0.1 + 0.2, Renorm: 0, Trunc: 0.35,
				TeaCache: 0.3, TeaCoeffs: []float64{1, 0}, Seed: 1<<31 - 1}},
		{Prompt: "三个绿色的圆", System: infer.System{None: true}, Width: 64, Height: 64,
			Options: infer.SampleOptions{Steps: 2, CFG: 1, Solver: infer.SolverMidpoint, Shift: 20, Renorm: 10, Trunc: 1, Seed: 0}},
	}
	for _, spec := range specs {
		line := infer.SampleCommandLine(spec, ck, "out dir/x.png")
		args := shellSplit(t, line)
		if len(args) < 2 || args[0] != "lumina" || args[1] != "sample" {
			t.Fatalf("line %q does not start with lumina sample", line)
		}
		var f sampleFlags
		var prompt, out string
		cmd := &cobra.Command{Use: "sample"}
		f.register(cmd)
		cmd.Flags().StringVar(&prompt, "prompt", "", "")
		cmd.Flags().StringVar(&out, "out", "", "")
		if err := cmd.Flags().Parse(args[2:]); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		o, sys, err := f.options()
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got := infer.Spec{Prompt: prompt, System: sys, Width: f.res, Height: f.res, Options: o}
		// The command reads the coefficients from the checkpoint; the flags only switch TeaCache on.
		got.Options.TeaCoeffs, spec.Options.TeaCoeffs = nil, nil
		if !reflect.DeepEqual(got, spec) {
			t.Errorf("%q parsed back to\n%+v, want\n%+v", line, got, spec)
		}
		if f.ckpt != ck || out != "out dir/x.png" {
			t.Errorf("ckpt %q out %q", f.ckpt, out)
		}
	}
}
