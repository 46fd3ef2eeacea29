// Command gpucheck is the device verification (make gpu-check, tools/gpu-check.sh): each CUDA kernel
// against the CPU op it replaces, on random inputs, forward and backward, and one table of results.
// Built without the cuda tag it can only list the checks (--dry-run). docs/DESIGN.md §16.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lumina-workbench/lumina/model/cuda"
)

// check is one row of the table.
type check struct {
	Name    string
	Kernels []string // the kernels it exercises
	Tol     float64  // maximum relative error, max|got − want| / max(max|want|, 1e-30), per output
	What    string
	// Pending says why the check cannot run yet; it is reported as SKIP, never as a pass.
	Pending string
}

var checks = []check{
	{"silu", []string{"silu_fwd", "silu_bwd"}, 1e-5, "SiLU forward and backward vs ops.SiLU's kernels", ""},
	{"swiglu", []string{"swiglu_fwd", "swiglu_bwd"}, 1e-5, "SwiGLU forward and backward vs ops.SwiGLU's", ""},
	{"add", []string{"add_fwd"}, 1e-5, "Add vs x+y", ""},
	{"modulate", []string{"modulate_fwd", "sample_sums"}, 1e-5, "Modulate forward, dscale vs float64 formulas", ""},
	{"gated", []string{"gated_fwd", "gated_bwd_dy", "sample_sums"}, 1e-5, "GatedResidual forward, dy, dgate vs float64 formulas", ""},
	{"rmsnorm", []string{"rmsnorm_fwd", "rmsnorm_bwd", "col_sum"}, 1e-5, "RMSNorm forward, dx, dw vs ops.RMSNorm's", ""},
	{"layernorm", []string{"layernorm_fwd", "layernorm_bwd"}, 1e-5, "LayerNorm forward, dx vs ops.LayerNorm's", ""},
	{"attention", []string{"attn_prep", "attn_fwd", "attn_bwd_dq", "attn_bwd_dkv", "attn_post", "col_sum"}, 1e-4,
		"fused attention (GQA 4/2, QK-norm, RoPE, key mask, a padded sample) forward and backward vs ops.Attention's", ""},
	{"patchify", []string{"patchify", "unpatchify"}, 1e-5, "Patchify and its inverse vs the token layout of §2", ""},
	{"avgpool", []string{"avgpool_fwd", "avgpool_bwd"}, 1e-5, "AvgPool4 forward and backward vs float64 block means", ""},
	{"loss", []string{"sq_partial", "sq_final", "mse_bwd"}, 1e-5, "flow loss (MSE) and its gradient vs float64", ""},
	{"linear", []string{"bias_add", "col_sum"}, 1e-4, "Linear (cuBLAS sgemm) with bias, forward and backward vs ops.Linear's", ""},
	{"adamw", []string{"adamw_step", "scale_inplace"}, 1e-5, "AdamW step vs optim.AdamW's update rule", ""},
	{"ema", []string{"ema_update"}, 1e-5, "EMA update vs optim.EMA's", ""},
	{"model-grads", nil, 1e-4, "whole training step (tiny, aux loss): loss and every gradient vs the CPU executor", ""},
	{"cross-grads", []string{"xattn_prep", "xattn_post"}, 1e-4,
		"training step of the cross-injection model (cross-attention: queries and keys of two lengths) vs the CPU executor", ""},
	{"lm-grads", []string{"embed_fwd", "embed_bwd", "ce_rows", "ce_final", "ce_bwd"}, 1e-4,
		"text encoder training step (embedding, causal attention, cross-entropy): loss and gradients vs the CPU executor", ""},
	{"sample-fwd", nil, 1e-4, "sampling forward with resident weights vs Gorgonia's machine", ""},
	{"loss-curve", []string{"clip_scale"}, 1e-3, "200 training steps (clip, AdamW, EMA on the device) vs the CPU's loss curve", ""},
}

// programChecks are the checks of whole programs (checks_model.go), on any Backend.
var programChecks = map[string]func(be cuda.Backend, seed uint64) (float64, error){
	"linear":      checkLinear,
	"model-grads": checkModelGrads,
	"cross-grads": checkCrossGrads,
	"lm-grads":    checkLMGrads,
	"sample-fwd":  checkSampleForward,
	"loss-curve":  func(be cuda.Backend, seed uint64) (float64, error) { return checkLossCurve(be, curveSteps, seed) },
}

// curveSteps is the loss-curve check's length.
const curveSteps = 200

func main() {
	dry := flag.Bool("dry-run", false, "list the checks and exit")
	dev := flag.Int("device", 0, "CUDA device index")
	only := flag.String("only", "", "comma-separated check names (default all)")
	seed := flag.Uint64("seed", 1, "seed of the random inputs")
	flag.Parse()
	if *dry {
		list(os.Stdout)
		return
	}
	sel := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n != "" {
			sel[n] = true
		}
	}
	if err := run(os.Stdout, *dev, sel, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gpucheck:", err)
		os.Exit(1)
	}
}

func list(w io.Writer) {
	for _, c := range checks {
		status := fmt.Sprintf("tol %g", c.Tol)
		if c.Pending != "" {
			status = "SKIP: " + c.Pending
		}
		fmt.Fprintf(w, "%-12s %-60s %s\n", c.Name, c.What, status)
	}
}

// result is one check's outcome.
type result struct {
	name   string
	relErr float64
	err    error
	skip   string
	tol    float64
}

func printTable(w io.Writer, rs []result) (failed int) {
	fmt.Fprintf(w, "%-12s %-6s %-12s %-10s %s\n", "check", "result", "rel. error", "tolerance", "detail")
	for _, r := range rs {
		switch {
		case r.skip != "":
			fmt.Fprintf(w, "%-12s %-6s %-12s %-10s %s\n", r.name, "SKIP", "-", "-", r.skip)
		case r.err != nil:
			failed++
			fmt.Fprintf(w, "%-12s %-6s %-12s %-10g %v\n", r.name, "FAIL", "-", r.tol, r.err)
		case !(r.relErr <= r.tol):
			failed++
			fmt.Fprintf(w, "%-12s %-6s %-12.3g %-10g\n", r.name, "FAIL", r.relErr, r.tol)
		default:
			fmt.Fprintf(w, "%-12s %-6s %-12.3g %-10g\n", r.name, "PASS", r.relErr, r.tol)
		}
	}
	passed := 0
	for _, r := range rs {
		if r.skip == "" && r.err == nil && r.relErr <= r.tol {
			passed++
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	return failed
}
