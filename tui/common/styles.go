package common

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles is the workbench's palette; one instance is shared through Common. SetDark repaints it in
// place, so every component that holds the pointer follows the terminal's background.
type Styles struct {
	// Dark is the background the palette is for.
	Dark bool

	App         lipgloss.Style
	TabActive   lipgloss.Style
	TabInactive lipgloss.Style
	Header      lipgloss.Style
	Title       lipgloss.Style
	Label       lipgloss.Style
	Value       lipgloss.Style
	Dim         lipgloss.Style
	Selected    lipgloss.Style
	Focused     lipgloss.Style
	Good        lipgloss.Style
	Warn        lipgloss.Style
	Error       lipgloss.Style
	Border      lipgloss.Style
	StatusBar   lipgloss.Style
	StatusError lipgloss.Style
	Dialog      lipgloss.Style
	Timing      lipgloss.Style
	HelpKey     lipgloss.Style
	HelpDesc    lipgloss.Style
	HelpSep     lipgloss.Style
	// Differs marks a setting that is not the same across compared samples.
	Differs lipgloss.Style
	// PlotRaw, PlotLine and PlotAux draw the loss plot's raw points, smoothed loss and auxiliary loss;
	// PlotMark its stage boundaries.
	PlotRaw  lipgloss.Style
	PlotLine lipgloss.Style
	PlotAux  lipgloss.Style
	PlotMark lipgloss.Style
}

// DefaultStyles is the palette for a dark background, which most terminals have; the app repaints it
// once the terminal has said what its background is.
func DefaultStyles() *Styles { return NewStyles(true) }

// NewStyles is the palette for a dark (isDark) or light background. Every foreground is a light/dark
// pair with enough contrast on its background; the hex values are 256-colour safe (the renderer
// downsamples).
func NewStyles(isDark bool) *Styles {
	s := &Styles{}
	s.SetDark(isDark)
	return s
}

// SetDark repaints the palette for a dark or light background.
func (s *Styles) SetDark(isDark bool) {
	ld := lipgloss.LightDark(isDark)
	c := func(light, dark string) color.Color { return ld(lipgloss.Color(light), lipgloss.Color(dark)) }
	accent := c("#5B34D6", "#7D56F4")
	dim := c("#6C6C6C", "#808080")
	fg := lipgloss.NewStyle().Foreground
	*s = Styles{
		Dark:        isDark,
		TabActive:   lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(accent).Padding(0, 1),
		TabInactive: fg(dim).Padding(0, 1),
		Header:      fg(dim),
		Title:       fg(c("#4B22C0", "#C0A0FF")).Bold(true),
		Label:       fg(c("#4E4E4E", "#A0A0A0")),
		Value:       fg(c("#121212", "#FFFFFF")),
		Dim:         fg(dim),
		Selected:    lipgloss.NewStyle().Bold(true).Foreground(c("#000000", "#FFFFFF")).Background(c("#D7D0F5", "#3C3C5A")),
		Focused:     fg(accent).Bold(true),
		Good:        fg(c("#1B7F3B", "#50C878")),
		Warn:        fg(c("#8A5A00", "#E6B422")),
		Error:       fg(c("#C0262D", "#FF5F5F")),
		StatusBar:   fg(c("#303030", "#C8C8C8")),
		StatusError: fg(c("#C0262D", "#FF5F5F")).Bold(true),
		Dialog:      lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(1, 2),
		Timing:      fg(c("#005F87", "#87D7FF")),
		HelpKey:     fg(c("#3A3A3A", "#B0B0B0")),
		HelpDesc:    fg(dim),
		HelpSep:     fg(c("#A8A8A8", "#4A4A4A")),
		Differs:     fg(c("#8A5A00", "#E6B422")).Bold(true),
		PlotRaw:     fg(c("#9E9E9E", "#5F5F87")),
		PlotLine:    fg(c("#0055AA", "#5FD7FF")),
		PlotAux:     fg(c("#B34700", "#FFAF5F")),
		PlotMark:    fg(c("#8A5A00", "#D7AF5F")),
	}
}
