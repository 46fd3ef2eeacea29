package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/ckpt/ckpttest"
	"github.com/lumina-workbench/lumina/train"
)

func TestSampleWritesPNGAndSidecarDeterministically(t *testing.T) {
	ck := ckpttest.Save(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	for _, out := range []string{a, b} {
		if msg, err := luminaRun(t, "sample", "--ckpt", ck, "--prompt", "a red circle", "--steps", "5", "--res", "16",
			"--trunc", "0.5", "--seed", "3", "--out", out); err != nil {
			t.Fatalf("%v: %s", err, msg)
		}
	}
	pa, _ := os.ReadFile(a)
	pb, _ := os.ReadFile(b)
	if len(pa) == 0 || !bytes.Equal(pa, pb) {
		t.Fatal("same seed and settings gave different PNG bytes")
	}
	var side struct {
		Prompt   string         `json:"prompt"`
		Seed     uint64         `json:"seed"`
		Settings map[string]any `json:"settings"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "a.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &side); err != nil {
		t.Fatal(err)
	}
	// 5 grid points = 4 Euler steps; CFG-Trunc at 0.5 drops the uncond branch for the late steps.
	if side.Prompt != "a red circle" || side.Seed != 3 || side.Settings["nfe"] != 4.0 || side.Settings["forwards"].(float64) >= 8 {
		t.Fatalf("sidecar %s", raw)
	}
	if steps, ok := side.Settings["wall_ms_per_step"].([]any); !ok || len(steps) != 4 {
		t.Fatalf("per-step wall times missing: %s", raw)
	}
	c := filepath.Join(dir, "c.png")
	if _, err := luminaRun(t, "sample", "--ckpt", ck, "--prompt", "a red circle", "--steps", "5", "--res", "16", "--seed", "4", "--out", c); err != nil {
		t.Fatal(err)
	}
	if pc, _ := os.ReadFile(c); bytes.Equal(pa, pc) {
		t.Fatal("a different seed gave the same image")
	}
}

func TestSampleRefusesBadFlagsBeforeLoading(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.safetensors")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--steps", "-3"}, "--steps"},
		{[]string{"--cfg", "NaN"}, "--cfg"},
		{[]string{"--solver", "heun"}, "--solver"},
		{[]string{"--trunc", "1.5"}, "--trunc"},
		{[]string{"--shift", "0"}, "--shift"},
		{[]string{"--renorm", "-1"}, "--renorm"},
		{[]string{"--system", "D"}, "--system"},
		{[]string{"--res", "8"}, "--res"},
		{[]string{"--res", "512"}, "--res must be in 16..256, got 512"},
		{[]string{"--steps", "1000000"}, "--steps must be an integer in 2..1000, got 1000000"},
		{[]string{"--cfg", "1e308"}, "--cfg must be a number in [0, 50] (1 = no guidance), got 1e+308"},
		{[]string{"--shift", "1e9"}, "--shift must be a number in (0, 20]"},
		{[]string{"--renorm", "1e300"}, "--renorm must be a number in [0, 10]"},
		{[]string{"--teacache", "100"}, "--teacache must be a number in [0, 5]"},
		{[]string{}, "--ckpt"}, // flags fine: now the missing checkpoint is reported
	} {
		args := append([]string{"sample", "--prompt", "a red circle", "--ckpt", missing}, tc.args...)
		_, err := luminaRun(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: want an error naming %s, got %v", tc.args, tc.want, err)
		}
	}
}

func TestSampleRefusesBadPrompts(t *testing.T) {
	ck := ckpttest.Save(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("a red circle\n\xff\xfe broken\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--prompt", "   "}, "empty"},
		{[]string{"--prompt", strings.Repeat("red ", 2000)}, "shorten"},
		{[]string{"--prompt", "a \xff circle"}, "UTF-8"},
		{[]string{"--prompt", "a red\x00 circle"}, "control character U+0000"},
		{[]string{"--prompt", "a \x1b[31mred circle"}, "control character U+001B"},
		{[]string{"--prompts", bad, "--outdir", dir}, "UTF-8"},
		{[]string{"--prompts", bad}, "--outdir"},
		{[]string{"--prompt", "a red circle", "--out", filepath.Join(dir, "x.jpg")}, ".png"},
	} {
		args := append([]string{"sample", "--ckpt", ck}, tc.args...)
		if _, err := luminaRun(t, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: want an error mentioning %q, got %v", tc.args[:1], tc.want, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("refused runs left files behind: %v", entries)
	}
}

func TestSampleCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ck := ckpttest.Save(t)
	raw, _ := os.ReadFile(ck)
	cut := filepath.Join(dir, "cut.safetensors")
	os.WriteFile(cut, raw[:len(raw)/2], 0o644)
	_, err := luminaRun(t, "sample", "--ckpt", cut, "--prompt", "a red circle", "--out", filepath.Join(dir, "o.png"))
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), cut) {
		t.Fatalf("want a one-line error naming %s, got %v", cut, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "o.png")); err == nil {
		t.Fatal("an image was written from a corrupt checkpoint")
	}
}

func TestSamplePromptsFile(t *testing.T) {
	ck := ckpttest.Save(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "p.txt")
	os.WriteFile(list, []byte("# two prompts\na red circle\n\ntwo blue squares\n"), 0o644)
	out := filepath.Join(dir, "out")
	if msg, err := luminaRun(t, "sample", "--ckpt", ck, "--prompts", list, "--outdir", out, "--steps", "3", "--res", "16"); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	for _, f := range []string{"000.png", "000.json", "001.png", "001.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
}

func TestEvalCheckpointSuite(t *testing.T) {
	ck := ckpttest.Save(t)
	out := filepath.Join(t.TempDir(), "eval")
	msg, stderr, err := luminaRunStderr(t, "eval", "--ckpt", ck, "--suite", "quick", "--steps", "3", "--res", "16", "--outdir", out, "--json")
	if err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	if quick, _ := toyeval.Suite("quick"); !strings.Contains(stderr, fmt.Sprintf("eval %d/%d images in ", len(quick), len(quick))) {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	var res evalResult
	if err := json.Unmarshal([]byte(msg), &res); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	if len(res.Images) == 0 || len(res.Images) != len(res.Scores) {
		t.Fatalf("%d images, %d scores", len(res.Images), len(res.Scores))
	}
	// The written images score the same when judged again from the folder.
	again, err := evalFolder(out)
	if err != nil {
		t.Fatal(err)
	}
	if again.Overall != res.Overall {
		t.Fatalf("folder re-score %.4f, run %.4f", again.Overall, res.Overall)
	}
	if _, err := luminaRun(t, "eval", "--images", out, "--suite", "dpg"); err == nil {
		t.Fatal("--images with --suite accepted")
	}
}

// TestTeaCacheFitStoresPolynomial fits on a random checkpoint, then samples with TeaCache on: a high
// threshold skips main stacks and the sidecar says how many.
func TestTeaCacheFitStoresPolynomial(t *testing.T) {
	ck := ckpttest.Save(t)
	dir := t.TempDir()
	if _, err := luminaRun(t, "sample", "--ckpt", ck, "--prompt", "a red circle", "--teacache", "0.5", "--out", filepath.Join(dir, "x.png")); err == nil ||
		!strings.Contains(err.Error(), "teacache fit") {
		t.Fatalf("TeaCache without a fitted polynomial: want advice to run `teacache fit`, got %v", err)
	}
	if msg, err := luminaRun(t, "teacache", "fit", "--ckpt", ck, "--prompts", "2", "--steps", "8", "--res", "16"); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	b, err := ckpt.LoadBundle(ck, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if b.Meta[ckpt.MetaTeaCache] == "" {
		t.Fatal("no polynomial stored")
	}
	out := filepath.Join(dir, "t.png")
	if msg, err := luminaRun(t, "sample", "--ckpt", ck, "--prompt", "a red circle", "--steps", "12", "--res", "16", "--teacache", "5", "--out", out); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "t.json"))
	var side struct{ Settings map[string]any }
	json.Unmarshal(raw, &side)
	if side.Settings["main_skipped"].(float64) <= 0 {
		t.Fatalf("TeaCache at a high threshold skipped nothing: %s", raw)
	}
}

// TestEvalCheckpointRepeats: --repeats 2 samples the suite twice; repeat 0 is the single run image for
// image, repeat 1 uses fresh seeds, and the folder it writes scores as the run reported.
func TestEvalCheckpointRepeats(t *testing.T) {
	ck := ckpttest.Save(t)
	dir := t.TempDir()
	run := func(out string, extra ...string) evalResult {
		t.Helper()
		args := append([]string{"eval", "--ckpt", ck, "--suite", "quick", "--steps", "3", "--res", "16", "--seed", "5", "--outdir", out, "--json"}, extra...)
		msg, err := luminaRun(t, args...)
		if err != nil {
			t.Fatalf("%v: %s", err, msg)
		}
		var res evalResult
		if err := json.Unmarshal([]byte(msg), &res); err != nil {
			t.Fatalf("%v: %s", err, msg)
		}
		return res
	}
	one := run(filepath.Join(dir, "one"))
	two := run(filepath.Join(dir, "two"), "--repeats", "2")
	n := len(one.Images)
	if len(two.Images) != 2*n || len(two.Repeats) != 2 || len(one.Repeats) != 0 {
		t.Fatalf("%d and %d images, %d and %d repeat reports", n, len(two.Images), len(one.Repeats), len(two.Repeats))
	}
	read := func(sub string, j int) ([]byte, toyeval.ImageSidecar) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, sub, fmt.Sprintf("%03d.png", j)))
		if err != nil {
			t.Fatal(err)
		}
		sc, err := toyeval.ReadImageSidecar(filepath.Join(dir, sub, fmt.Sprintf("%03d.json", j)))
		if err != nil {
			t.Fatal(err)
		}
		return b, sc
	}
	for i := 0; i < n; i++ {
		a, _ := read("one", i)
		b, _ := read("two", i)
		if !bytes.Equal(a, b) {
			t.Fatalf("repeat 0 image %d differs from the single run's", i)
		}
		c, sc := read("two", n+i)
		if bytes.Equal(a, c) || sc.Seed == nil || *sc.Seed != uint64(5+n+i) || sc.ID != two.Images[i].ID {
			t.Fatalf("repeat 1 image %d: same bytes %v, seed %v (want %d), id %q (want %q)", i, bytes.Equal(a, c), sc.Seed, 5+n+i, sc.ID, two.Images[i].ID)
		}
	}
	again, err := evalFolder(filepath.Join(dir, "two"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Overall != two.Overall {
		t.Fatalf("folder re-score %.4f, run %.4f", again.Overall, two.Overall)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--ckpt", ck, "--repeats", "0"}, "--repeats 0 outside 1..100"},
		{[]string{"eval", "--ckpt", ck, "--repeats", "101"}, "--repeats 101 outside"},
		{[]string{"eval", "--images", dir, "--repeats", "2"}, "--repeats"},
	} {
		if _, err := luminaRun(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
}

// badCheckpoint saves the test bundle after change, for the checks on what a checkpoint holds. It is
// written as the trainer writes checkpoints: the bundle's file with b.Meta's keys added, training
// state keys included.
func badCheckpoint(t *testing.T, change func(b *ckpt.Bundle)) string {
	t.Helper()
	b := ckpttest.Bundle(t)
	b.Meta = map[string]string{}
	change(b)
	ts, meta, err := ckpt.BundleFile(b)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(meta, b.Meta)
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := ckpt.Save(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSampleRefusesUnusableCheckpoints: NaN weights, damaged data and an untrained DiT each end
// `lumina sample` with an error naming the file and the cause, and no image, where a black or noise
// PNG used to be written.
func TestSampleRefusesUnusableCheckpoints(t *testing.T) {
	nan := badCheckpoint(t, func(b *ckpt.Bundle) { b.DiT.T["layers.1.attn.qkv.weight"].Data().([]float32)[7] = float32(math.NaN()) })
	stage0 := badCheckpoint(t, func(b *ckpt.Bundle) {
		clear(b.DiT.T["final.weight"].Data().([]float32))
		clear(b.DiT.T["final.bias"].Data().([]float32))
		b.Meta[ckpt.MetaTrainKind], b.Meta[ckpt.MetaTrainStage] = ckpt.TrainKindTextEncoder, "0"
	})
	raw, _ := os.ReadFile(ckpttest.Save(t))
	copy(raw[len(raw)-8:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // NaN bytes in the last tensor
	damaged := filepath.Join(t.TempDir(), "damaged.safetensors")
	os.WriteFile(damaged, raw, 0o644)
	dir := t.TempDir()
	for _, c := range []struct {
		ckpt string
		want []string
	}{
		{nan, []string{"load checkpoint " + nan, "tensor layers.1.attn.qkv.weight holds 1 non-finite value(s) (the first, element 7, is NaN)", "earlier checkpoint"}},
		{damaged, []string{"load checkpoint " + damaged, "data checksum mismatch", "copy it again"}},
		{stage0, []string{"checkpoint " + stage0 + " holds no trained DiT", "stage-0 checkpoint", "final.safetensors"}},
	} {
		out := filepath.Join(dir, "x.png")
		_, err := luminaRun(t, "sample", "--ckpt", c.ckpt, "--prompt", "a red circle", "--steps", "3", "--res", "16", "--out", out)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want one containing %q", filepath.Base(c.ckpt), err, w)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: an image was written", filepath.Base(c.ckpt))
		}
	}
}

// TestSampleStopsOnOverflow: finite weights whose output overflows float32 end sampling with an error
// naming the step, instead of a black image.
func TestSampleStopsOnOverflow(t *testing.T) {
	ck := badCheckpoint(t, func(b *ckpt.Bundle) {
		for i := range b.DiT.T["final.bias"].Data().([]float32) {
			b.DiT.T["final.bias"].Data().([]float32)[i] = 3e38
		}
		for i := range b.DiT.T["final.weight"].Data().([]float32) {
			b.DiT.T["final.weight"].Data().([]float32)[i] = 3e38
		}
	})
	out := filepath.Join(t.TempDir(), "x.png")
	_, err := luminaRun(t, "sample", "--ckpt", ck, "--prompt", "a red circle", "--steps", "5", "--res", "16", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "step 1 of 4 (t=0): the velocity of prompt 1 is") || !strings.Contains(err.Error(), "lower --cfg") {
		t.Fatalf("want an error naming the step, got %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("an image was written")
	}
}

// TestSampleChecksOutputBeforeLoading: an output that cannot be written is refused before the checkpoint
// is even read (here a corrupt one), naming the flag and the folder and no temporary file.
func TestSampleChecksOutputBeforeLoading(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.safetensors")
	os.WriteFile(corrupt, []byte("not a checkpoint"), 0o644)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	list := filepath.Join(dir, "p.txt")
	os.WriteFile(list, []byte("a red circle\n"), 0o644)
	folder := filepath.Join(dir, "sub.png")
	os.Mkdir(folder, 0o755)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--prompt", "a red circle", "--out", filepath.Join(dir, "missing", "dir", "x.png")}, "--out: folder " + filepath.Join(dir, "missing", "dir") + " does not exist"},
		{[]string{"--prompt", "a red circle", "--out", filepath.Join(file, "x.png")}, "--out: " + file + " is not a folder"},
		{[]string{"--prompt", "a red circle", "--out", folder}, "--out " + folder + " is a folder"},
		{[]string{"--prompts", list, "--outdir", filepath.Join(file, "out")}, "--outdir"},
	} {
		_, err := luminaRun(t, append([]string{"sample", "--ckpt", corrupt}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), ".tmp") || strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%v: error %v, want one containing %q before the checkpoint is read", c.args, err, c.want)
		}
	}
	_, err := luminaRun(t, "eval", "--ckpt", corrupt, "--outdir", filepath.Join(file, "eval"))
	if err == nil || !strings.Contains(err.Error(), "--outdir") {
		t.Errorf("eval --outdir under a file: %v", err)
	}
}

// TestSampleWarnsBeforeWork: a prompt longer than the checkpoint's captions and a resolution beyond
// the ones it was trained at are both reported on stderr before sampling, which still runs.
func TestSampleWarnsBeforeWork(t *testing.T) {
	ck := badCheckpoint(t, func(b *ckpt.Bundle) {
		b.Meta[ckpt.MetaCaptionTokens] = "6"
		b.Meta[ckpt.MetaResolutions] = ckpt.ResolutionsMeta([]int{16})
	})
	dir := t.TempDir()
	_, stderr, err := luminaRunStderr(t, "sample", "--ckpt", ck, "--system", "none", "--prompt", "a red circle on the left",
		"--steps", "3", "--res", "32", "--out", filepath.Join(dir, "x.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"warning: --res 32 is outside the resolutions " + ck + " was trained at (16 px): expect poor images, and each step takes 4× the image tokens of 16 px",
		`warning: prompt 1 ("a red circle on the left"): the model is given 6 of its 7 caption tokens (the checkpoint was trained on captions of at most 6)`,
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	_, stderr, err = luminaRunStderr(t, "sample", "--ckpt", ck, "--system", "none", "--prompt", "a red circle",
		"--steps", "3", "--res", "16", "--out", filepath.Join(dir, "y.png"))
	if err != nil || stderr != "" {
		t.Errorf("a short prompt at a trained resolution: stderr %q, error %v", stderr, err)
	}
}

// TestSampleProgressOnStderr: a batch reports its progress on stderr, ending with the count and the
// time taken; stdout keeps only the results. (Eval and bench sample: TestEvalCheckpointSuite,
// TestBenchSampleTable.)
func TestSampleProgressOnStderr(t *testing.T) {
	ck := ckpttest.Save(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "p.txt")
	os.WriteFile(list, []byte("a red circle\ntwo blue squares\na green triangle\n"), 0o644)
	stdout, stderr, err := luminaRunStderr(t, "sample", "--ckpt", ck, "--prompts", list, "--outdir", filepath.Join(dir, "out"), "--steps", "3", "--res", "16")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "sample 0/3 images, ETA ?") || !strings.Contains(stderr, "sample 3/3 images in ") ||
		strings.Count(stdout, "\n") != 3 || strings.Contains(stdout, "images") {
		t.Errorf("stdout %q, stderr %q", stdout, stderr)
	}
}

// The checkpoint package names stage 0's kind without importing train (it sits below it).
func TestTrainKindTextEncoderMatchesTrain(t *testing.T) {
	if ckpt.TrainKindTextEncoder != string(train.KindTextEncoder) {
		t.Fatalf("ckpt.TrainKindTextEncoder %q, train.KindTextEncoder %q", ckpt.TrainKindTextEncoder, train.KindTextEncoder)
	}
}
