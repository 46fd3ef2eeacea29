//go:build !unix

package termcap

// ttyCellSize has no portable source outside Unix; the terminal's reply or
// the default is used instead.
func ttyCellSize() (CellSize, bool) { return CellSize{}, false }
