package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/model/arch"
)

func runModel(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newModelCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestModelInfo2B(t *testing.T) {
	out, err := runModel(t, "info", "--config", "2B")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"2.61B (2,609,769,152)", "2304", "head_dim", "96", "32, 32, 32", "9216", "1024",
		"embedders", "noise refiners", "context refiners", "main layers", "final", "24 query, 8 key/value"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestModelInfoJSON(t *testing.T) {
	out, err := runModel(t, "info", "--config", "tiny", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name    string            `json:"name"`
		Dim     int               `json:"dim"`
		HeadDim int               `json:"head_dim"`
		Params  int64             `json:"params"`
		Groups  []arch.ParamGroup `json:"param_groups"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	tiny, _ := arch.LookupConfig("tiny")
	var sum int64
	for _, g := range got.Groups {
		sum += g.Count
	}
	if got.Name != "tiny" || got.Dim != 128 || got.HeadDim != 32 || got.Params != tiny.ParamCount() || sum != got.Params || len(got.Groups) != 5 {
		t.Errorf("JSON %+v", got)
	}
}

func TestModelInfoErrorsAndFiles(t *testing.T) {
	_, err := runModel(t, "info", "--config", "9B")
	if err == nil {
		t.Fatal("unknown config accepted")
	}
	for _, n := range arch.ConfigNames() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %s", err, n)
		}
	}
	if !strings.Contains(err.Error(), "--config") {
		t.Errorf("error %q does not name the flag", err)
	}
	p := filepath.Join(t.TempDir(), "wide.yaml")
	os.WriteFile(p, []byte("name: wide\ndim: 192\nlayers: 2\nheads: 4\nkv_heads: 4\naxes_dims: [16, 16, 16]\nmultiple_of: 64\n"+
		"refiners: 0\npatch: 2\nchannels: 3\ncap_dim: 64\nfreq_dim: 256\nadaln_max: 1024\nnorm_eps: 1e-5\n"), 0o644)
	out, err := runModel(t, "info", "--config", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "wide") || !strings.Contains(out, "768") { // FFN 4·192
		t.Errorf("file config output:\n%s", out)
	}
	if strings.Contains(out, "rope_grid") {
		t.Errorf("rope_grid shown for a config without it:\n%s", out)
	}
	os.WriteFile(p, []byte("name: grid\ndim: 128\nlayers: 2\nheads: 4\nkv_heads: 2\naxes_dims: [8, 12, 12]\nmultiple_of: 256\n"+
		"refiners: 1\npatch: 4\nchannels: 3\ncap_dim: 128\nfreq_dim: 256\nadaln_max: 1024\nnorm_eps: 1e-5\nrope_grid: 8\n"), 0o644)
	if out, err := runModel(t, "info", "--config", p); err != nil || !strings.Contains(out, "rope_grid") || !strings.Contains(out, "1/8") {
		t.Errorf("rope_grid 8 config: %v\n%s", err, out)
	}
	if _, err := runModel(t, "info", "extra"); err == nil {
		t.Error("positional argument accepted")
	}
}

func TestModelRegistered(t *testing.T) {
	for _, c := range rootCmd.Commands() {
		if c.Name() == "model" {
			return
		}
	}
	t.Fatal("model command not registered on rootCmd")
}

func TestParamCountString(t *testing.T) {
	for n, want := range map[int64]string{999: "999", 1000: "1.00K (1,000)", 1903280: "1.90M (1,903,280)", 2609769152: "2.61B (2,609,769,152)"} {
		if got := paramCountString(n); got != want {
			t.Errorf("%d → %q, want %q", n, got, want)
		}
	}
}
