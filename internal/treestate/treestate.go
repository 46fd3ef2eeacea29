// Package treestate records what a folder holds (every entry's type, mode, size, modification time and
// content hash) so that tests can tell whether anything under it was created, removed or written.
package treestate

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// State maps every path under a root, the root included, to a description of it. A root that does not
// exist has the empty state.
type State map[string]string

// Of records root.
func Of(root string) (State, error) {
	st := State{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum = fmt.Sprintf(" sha256 %x", sha256.Sum256(b))
		}
		st[path] = fmt.Sprintf("%v, %d bytes, modified %s%s", info.Mode(), info.Size(), info.ModTime().Format("15:04:05.000000000"), sum)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	return st, err
}

// Diff lists how got differs from want, one line per path, in path order; nil when they are equal.
func Diff(want, got State) []string {
	var out []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			out = append(out, p+": removed")
		case g != w:
			out = append(out, fmt.Sprintf("%s: was %s, now %s", p, w, g))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			out = append(out, p+": created")
		}
	}
	slices.Sort(out)
	return out
}
