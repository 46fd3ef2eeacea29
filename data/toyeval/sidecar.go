package toyeval

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/internal/atomicfile"
)

// ImageSidecar is the JSON file NAME.json beside a generated NAME.png: the prompt the image was made
// for, so that `lumina eval --images DIR` can judge a folder of samples. Either ID names a built-in
// ToyEval prompt, or Facts say what to check (Prompt is then the text that was given).
type ImageSidecar struct {
	ID       string       `json:"id,omitempty"`
	Prompt   string       `json:"prompt,omitempty"`
	Category string       `json:"category,omitempty"`
	Facts    []world.Fact `json:"facts,omitempty"`
	Seed     *uint64      `json:"seed,omitempty"`
	// Settings records how the image was made (solver, steps, cfg, …), for the reader's benefit.
	Settings map[string]any `json:"settings,omitempty"`
}

// ResolvePrompt turns a sidecar into the prompt to judge against.
func (sc ImageSidecar) ResolvePrompt() (Prompt, error) {
	if len(sc.Facts) > 0 {
		if err := world.ValidateFacts(sc.Facts); err != nil {
			return Prompt{}, err
		}
		cat := sc.Category
		if cat == "" {
			cat = CatCustom
			if p, ok := PromptByID(sc.ID); ok {
				cat = p.Category
			}
		}
		return Prompt{ID: sc.ID, Benchmark: benchmarkOf(cat), Category: cat, Text: sc.Prompt, Facts: sc.Facts}, nil
	}
	if sc.ID == "" {
		return Prompt{}, errors.New(`sidecar has neither "facts" nor a ToyEval "id"`)
	}
	p, ok := PromptByID(sc.ID)
	if !ok {
		return Prompt{}, fmt.Errorf("sidecar names unknown ToyEval prompt id %q", sc.ID)
	}
	if sc.Prompt != "" && sc.Prompt != p.Text {
		return Prompt{}, fmt.Errorf("sidecar prompt %q does not match ToyEval prompt %s (%q)", sc.Prompt, p.ID, p.Text)
	}
	return p, nil
}

// ReadImageSidecar reads and checks NAME.json.
func ReadImageSidecar(path string) (ImageSidecar, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ImageSidecar{}, fmt.Errorf("read sidecar: %w", err)
	}
	var sc ImageSidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		return ImageSidecar{}, fmt.Errorf("parse sidecar %s: %w", path, err)
	}
	return sc, nil
}

// WriteImageSidecar writes NAME.json atomically.
func WriteImageSidecar(path string, sc ImageSidecar) error {
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode sidecar %s: %w", path, err)
	}
	return atomicfile.Write(path, nil, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
