package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Stats is what a GPU reports of itself for the workbench's status line.
type Stats struct {
	Device Device
	Name   string
	// MemUsed and MemTotal are bytes; Util is the percentage of the last sample period a kernel ran.
	MemUsed, MemTotal int64
	Util              int
}

// String is the status line's form: "cuda:0 NVIDIA H100 · 12.1/79.6 GiB · 45%".
func (s Stats) String() string {
	return fmt.Sprintf("%s %s · %.1f/%.1f GiB · %d%%", s.Device, s.Name, float64(s.MemUsed)/(1<<30), float64(s.MemTotal)/(1<<30), s.Util)
}

// Short is String without the name, for narrow terminals: "cuda:0 · 12.1/79.6 GiB · 45%".
func (s Stats) Short() string {
	return fmt.Sprintf("%s · %.1f/%.1f GiB · %d%%", s.Device, float64(s.MemUsed)/(1<<30), float64(s.MemTotal)/(1<<30), s.Util)
}

// NvidiaSMI asks nvidia-smi (the driver's own tool, present wherever the driver is) for d's name, memory
// in use and utilisation: the cuda build links no NVML, and the driver API reports no utilisation.
func NvidiaSMI(ctx context.Context, d Device) (Stats, error) {
	if !d.IsCUDA() {
		return Stats{}, errors.New("device stats: the CPU is not a GPU")
	}
	cmd := exec.CommandContext(ctx, "nvidia-smi", "--query-gpu=name,memory.used,memory.total,utilization.gpu",
		"--format=csv,noheader,nounits", "-i", strconv.Itoa(d.Index))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Stats{Device: d}, fmt.Errorf("nvidia-smi: %w %s", err, strings.TrimSpace(stderr.String()))
	}
	s, err := parseSMI(d, string(out))
	s.Device = d
	return s, err
}

// parseSMI reads one CSV line of nvidia-smi's query: name, MiB used, MiB total, percent.
func parseSMI(d Device, out string) (Stats, error) {
	line := strings.TrimSpace(strings.SplitN(strings.TrimSpace(out), "\n", 2)[0])
	f := strings.Split(line, ",")
	if len(f) != 4 {
		return Stats{}, fmt.Errorf("nvidia-smi: unexpected output %q", line)
	}
	num := func(s string) (int64, error) {
		s = strings.TrimSpace(s)
		if s == "[N/A]" || s == "N/A" {
			return 0, nil
		}
		return strconv.ParseInt(s, 10, 64)
	}
	used, err1 := num(f[1])
	total, err2 := num(f[2])
	util, err3 := num(f[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return Stats{}, fmt.Errorf("nvidia-smi: %q: %w", line, err)
	}
	return Stats{Device: d, Name: strings.TrimSpace(f[0]), MemUsed: used << 20, MemTotal: total << 20, Util: int(util)}, nil
}
