package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/internal/device"
)

func TestCheckOptionsRefusesABadDeviceFirst(t *testing.T) {
	p, err := LoadPreset(DefaultPreset, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	err = CheckOptions(Options{Preset: p, RunDir: dir, Stage: AllStages, Device: device.Device{Kind: device.CUDA, Index: 99}})
	if err == nil || !strings.Contains(err.Error(), "--device") {
		t.Fatalf("CheckOptions: %v, want a --device error", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("the refusal created the run folder")
	}
}
