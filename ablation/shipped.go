package ablation

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// The shipped grids: one per inference claim of the paper, and the benchmark's.
//
//go:embed grids/*.yaml
var shippedFS embed.FS

// Shipped lists the shipped grids' names.
func Shipped() []string {
	ents, _ := fs.ReadDir(shippedFS, "grids")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return out
}

// ShippedGrid parses the shipped grid name.
func ShippedGrid(name string, def Setting) (*Grid, error) {
	b, err := shippedFS.ReadFile(path.Join("grids", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("no shipped grid %q (shipped: %s)", name, strings.Join(Shipped(), ", "))
	}
	return ParseGrid(b, "grids/"+name+".yaml (shipped)", def)
}

// LoadGrid reads --grid: a grid file, or else the name of a shipped grid.
func LoadGrid(arg string, def Setting) (*Grid, error) {
	if _, err := os.Stat(arg); err == nil {
		return ReadGrid(arg, def)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--grid %s: %w", arg, err)
	}
	for _, n := range Shipped() {
		if n == arg {
			return ShippedGrid(n, def)
		}
	}
	return nil, fmt.Errorf("--grid %s: no such file, nor a shipped grid (shipped: %s)", arg, strings.Join(Shipped(), ", "))
}
