// Package common holds what every TUI component shares: the Common struct (size, styles, key map,
// image mode), the Component interface the views implement, and the small layout helpers that keep
// every View exactly as wide and as tall as it was told to be (the sixel painter and the golden tests
// both rely on that).
package common

import (
	"image"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	imgview "github.com/lumina-workbench/lumina/tui/image"
	"github.com/lumina-workbench/lumina/tui/termcap"
)

// Common is passed by value to every component, which keeps its own copy and its own size.
type Common struct {
	Width, Height int
	Styles        *Styles
	Keys          *KeyMap
	// ImageMode is how images are drawn; views render half-block cells only in HalfBlock mode and
	// leave blank cells for the painter otherwise.
	ImageMode termcap.Mode
}

// New makes a Common with the default styles and keys in half-block mode.
func New() Common {
	return Common{Styles: DefaultStyles(), Keys: DefaultKeyMap()}
}

// SetSize records the component's size.
func (c *Common) SetSize(w, h int) { c.Width, c.Height = w, h }

// Component is what the app and views compose: soft-serve's common.Component with the help bar's
// bindings.
type Component interface {
	Init() tea.Cmd
	Update(tea.Msg) (Component, tea.Cmd)
	View() string
	SetSize(w, h int)
	ShortHelp() []key.Binding
	FullHelp() [][]key.Binding
}

// Page is a top-level view of the app.
type Page interface {
	Component
	// Title is the tab label.
	Title() string
	// Capturing reports whether a text input has the keyboard, so single-letter global keys (q, 1–4)
	// must go to it.
	Capturing() bool
	// ImageSlot is the image the page shows and its box relative to the page's top-left cell; a nil
	// image means none. The app hands it to the sixel painter.
	ImageSlot() (image.Image, imgview.Box)
	// Busy reports a job (sampling, training) that must be stopped before quitting.
	Busy() bool
	// StopJob asks the job to stop gracefully; the page stops being Busy when it has.
	StopJob() tea.Cmd
}

// ImageModeMsg tells components the image mode changed (the app sends it after terminal detection).
type ImageModeMsg struct {
	Mode termcap.Mode
}

// ThemeMsg says the palette was repainted for the terminal's background (Styles.SetDark); components
// that copied styles into a bubble (text areas, inputs) apply them again.
type ThemeMsg struct{ Dark bool }

// Click is a left click at (X, Y), in cells from the top-left of the component that receives it; the
// app translates the terminal's mouse events into the page's frame.
type Click struct{ X, Y int }

// Wheel is a turn of the mouse wheel over (X, Y), in the same frame as Click: Delta is −1 for up
// (back), +1 for down (on).
type Wheel struct{ X, Y, Delta int }

// StatusMsg puts a one-line note in the app's status bar; Err marks it as an error.
type StatusMsg struct {
	Text string
	Err  bool
}

// Status returns a command that delivers a StatusMsg.
func Status(text string, isErr bool) tea.Cmd {
	return func() tea.Msg { return StatusMsg{Text: text, Err: isErr} }
}
