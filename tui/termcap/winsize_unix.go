//go:build unix

package termcap

import (
	"os"

	"golang.org/x/sys/unix"
)

// ttyCellSize reads the cell size from the kernel's idea of the window
// (TIOCGWINSZ), which xterm, most X and Wayland terminals and OpenSSH fill
// with pixel dimensions even when the terminal refuses "CSI 16 t" (xterm
// does by default: window operations are disallowed).
func ttyCellSize() (CellSize, bool) {
	for _, f := range []*os.File{os.Stdout, os.Stdin, os.Stderr} {
		ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
		if err != nil {
			continue
		}
		if c, ok := CellSizeFromWinsize(int(ws.Col), int(ws.Row), int(ws.Xpixel), int(ws.Ypixel)); ok {
			return c, true
		}
	}
	return CellSize{}, false
}
