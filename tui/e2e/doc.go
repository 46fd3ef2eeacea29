// Package e2e holds the workbench's end-to-end test: the real binary in tmux, driven by keystrokes
// and read back with capture-pane.
package e2e
