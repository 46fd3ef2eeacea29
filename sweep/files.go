package sweep

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lumina-workbench/lumina/internal/atomicfile"
)

// StatOut reports whether an --out folder exists, refusing a path that is not a folder.
func StatOut(dir string) (exists bool, err error) {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return false, fmt.Errorf("--out %s is not a folder", dir)
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("--out: %w", err)
}

// CheckOut refuses an --out folder that cannot be written: an existing one must take files, a new one's
// nearest existing parent must be a writable folder. It probes by writing, so it comes after every other
// check.
func CheckOut(dir string, exists bool) error {
	if exists {
		if err := atomicfile.CheckWritable(dir); err != nil {
			return fmt.Errorf("--out: cannot write into folder %s (%w): choose another folder or change its permissions", dir, err)
		}
		return nil
	}
	p := filepath.Dir(filepath.Clean(dir))
	for {
		st, err := os.Stat(p)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("--out %s: %s is not a folder", dir, p)
			}
			if err := atomicfile.CheckWritable(p); err != nil {
				return fmt.Errorf("--out %s: cannot create it in %s (%w): choose another folder", dir, p, err)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(p) == p {
			return fmt.Errorf("--out %s: %w", dir, err)
		}
		p = filepath.Dir(p)
	}
}

// CutAt is a summary's markdown up to heading, the section of measured times that differ from run to
// run: two runs of the same work, sharded or not, agree on what comes before it.
func CutAt(name string, content []byte, heading string) (string, error) {
	s := string(content)
	i := strings.Index(s, heading)
	if i < 0 {
		return "", fmt.Errorf("%s has no section %q", name, strings.TrimSpace(heading))
	}
	return s[:i], nil
}

// DropColumns is a summary's csv without the columns timed names (its measured times).
func DropColumns(name string, content []byte, timed func(column string) bool) (string, error) {
	rows, err := csv.NewReader(bytes.NewReader(content)).ReadAll()
	if err != nil || len(rows) == 0 {
		return "", fmt.Errorf("%s: not a summary (%v)", name, err)
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	for _, row := range rows {
		var keep []string
		for i, f := range row {
			if !timed(rows[0][i]) {
				keep = append(keep, f)
			}
		}
		w.Write(keep)
	}
	w.Flush()
	return b.String(), w.Error()
}
