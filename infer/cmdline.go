package infer

import (
	"strconv"
	"strings"
)

// SampleArgs are the `lumina sample` arguments that reproduce spec from checkpoint ckpt into out (either
// may be ""; then the flag is left out and the command's default applies). Every setting is spelled
// out, so the line still means the same image if a default changes. TeaCache's coefficients are not a
// flag: the command reads them from the checkpoint.
func SampleArgs(spec Spec, ckpt, out string) []string {
	o := spec.Options
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	args := []string{"lumina", "sample"}
	if ckpt != "" {
		args = append(args, "--ckpt", ckpt)
	}
	args = append(args,
		"--prompt", spec.Prompt,
		"--system", spec.System.String(),
		"--res", strconv.Itoa(spec.Width),
		"--steps", strconv.Itoa(o.Steps),
		"--cfg", num(o.CFG),
		"--solver", o.Solver,
		"--shift", num(o.Shift),
		"--renorm", num(o.Renorm),
		"--trunc", num(o.Trunc),
		"--teacache", num(o.TeaCache),
		"--seed", strconv.FormatUint(o.Seed, 10),
	)
	if out != "" {
		args = append(args, "--out", out)
	}
	return args
}

// SampleCommandLine is SampleArgs as one POSIX shell line, each argument quoted where it needs it.
func SampleCommandLine(spec Spec, ckpt, out string) string {
	args := SampleArgs(spec, ckpt, out)
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// ShellQuote quotes s for a POSIX shell: as it is when it holds only characters no shell treats
// specially, otherwise in single quotes (a single quote inside becomes '\”).
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,:=+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
