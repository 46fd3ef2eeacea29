// Package state keeps what a person expects back when the workbench restarts: the prompt, the sample
// settings, the view on show, and the sampled images (PNGs with their sidecars, so they are ordinary
// files `lumina eval --images` can judge). Everything lives in one folder, $XDG_STATE_HOME/lumina
// (~/.local/state/lumina by default); every file is written atomically, and a missing or unreadable
// file costs only what it held, with a notice.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/internal/atomicfile"
)

// Names inside the state folder.
const (
	File       = "state.json"
	HistoryDir = "history"
)

// Version is the state file's format; a file of another version is ignored with a notice.
const Version = 1

// State is the state file.
type State struct {
	Version  int     `json:"version"`
	Prompt   string  `json:"prompt"`
	Settings []Field `json:"settings,omitempty"`
	// Page is the view on show when the workbench quit.
	Page int `json:"page"`
}

// Field is one sample setting, matched by Label when restored: a number (Value, and On for a toggle),
// or a choice by its text (the choices offered may differ with the model).
type Field struct {
	Label  string  `json:"label"`
	Value  float64 `json:"value,omitempty"`
	On     bool    `json:"on,omitempty"`
	Choice string  `json:"choice,omitempty"`
}

// Dir is the state folder for an environment: $XDG_STATE_HOME/lumina, else ~/.local/state/lumina; ""
// when neither is known.
func Dir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "lumina")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "lumina")
	}
	return ""
}

// Load reads dir's state file. A missing file is a first start (no notice); one that does not parse,
// or is of another version, is ignored, and notice says so.
func Load(dir string) (st State, notice string) {
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return State{}, ""
	case err != nil:
		return State{}, fmt.Sprintf("state not restored: %v", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Sprintf("state not restored: %s is not a state file (%v); it is replaced on quit", path, err)
	}
	if st.Version != Version {
		return State{}, fmt.Sprintf("state not restored: %s is of version %d, this build reads %d", path, st.Version, Version)
	}
	return st, ""
}

// Save writes dir's state file atomically, creating dir.
func Save(dir string, st State) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	st.Version = Version
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, File), nil, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// Image is one sampled image kept in the history folder.
type Image struct {
	ID  int
	Gen *infer.Generated
	// Path is the PNG; its sidecar is beside it.
	Path string
}

var imageName = regexp.MustCompile(`^(\d{6})\.png$`)

// SaveImage writes g as history image id: NNNNNN.png and NNNNNN.json (toyeval's sidecar: prompt, seed,
// settings, timings), each atomically. It returns the PNG's path.
func SaveImage(dir string, id int, g *infer.Generated) (string, error) {
	hd := filepath.Join(dir, HistoryDir)
	if err := os.MkdirAll(hd, 0o755); err != nil {
		return "", fmt.Errorf("save image: %w", err)
	}
	sc := g.Sidecar
	if sc.Settings == nil {
		sc = infer.NewSidecar(g.Spec, g.Result)
	}
	base := filepath.Join(hd, fmt.Sprintf("%06d", id))
	if err := dataset.WritePNG(base+".png", g.Image); err != nil {
		return "", err
	}
	if err := toyeval.WriteImageSidecar(base+".json", sc); err != nil {
		return "", err
	}
	return base + ".png", nil
}

// LoadHistory reads the history folder, oldest first. An image whose PNG or sidecar does not read is
// left out, and named in a notice.
func LoadHistory(dir string) (imgs []Image, notices []string) {
	hd := filepath.Join(dir, HistoryDir)
	ents, err := os.ReadDir(hd)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []string{fmt.Sprintf("history not restored: %v", err)}
	}
	for _, e := range ents {
		m := imageName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		id, _ := strconv.Atoi(m[1])
		path := filepath.Join(hd, e.Name())
		g, err := readImage(path)
		if err != nil {
			notices = append(notices, fmt.Sprintf("history image %s left out: %v", path, err))
			continue
		}
		imgs = append(imgs, Image{ID: id, Gen: g, Path: path})
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].ID < imgs[j].ID })
	return imgs, notices
}

func readImage(path string) (*infer.Generated, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, err
	}
	sc, err := toyeval.ReadImageSidecar(path[:len(path)-len(".png")] + ".json")
	if err != nil {
		return nil, err
	}
	spec, res, err := infer.FromSidecar(sc)
	if err != nil {
		return nil, err
	}
	rgba, ok := img.(*image.RGBA)
	if !ok {
		b := img.Bounds()
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				rgba.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
			}
		}
	}
	return &infer.Generated{Image: rgba, Result: res, Spec: spec, Sidecar: sc}, nil
}

// NextID is the id after the newest image of imgs.
func NextID(imgs []Image) int {
	if len(imgs) == 0 {
		return 1
	}
	return imgs[len(imgs)-1].ID + 1
}
