package common

import (
	"charm.land/lipgloss/v2"
)

// Styles is the workbench's palette; one instance is shared through Common.
type Styles struct {
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
}

// DefaultStyles is a dark-terminal palette in 256-colour-safe hex values (the renderer downsamples).
func DefaultStyles() *Styles {
	accent := lipgloss.Color("#7D56F4")
	dim := lipgloss.Color("#808080")
	return &Styles{
		TabActive:   lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(accent).Padding(0, 1),
		TabInactive: lipgloss.NewStyle().Foreground(dim).Padding(0, 1),
		Header:      lipgloss.NewStyle().Foreground(dim),
		Title:       lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#C0A0FF")),
		Label:       lipgloss.NewStyle().Foreground(lipgloss.Color("#A0A0A0")),
		Value:       lipgloss.NewStyle().Foreground(lipgloss.Color("#FFFFFF")),
		Dim:         lipgloss.NewStyle().Foreground(dim),
		Selected:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(lipgloss.Color("#3C3C5A")),
		Focused:     lipgloss.NewStyle().Bold(true).Foreground(accent),
		Good:        lipgloss.NewStyle().Foreground(lipgloss.Color("#50C878")),
		Warn:        lipgloss.NewStyle().Foreground(lipgloss.Color("#E6B422")),
		Error:       lipgloss.NewStyle().Foreground(lipgloss.Color("#FF5F5F")),
		StatusBar:   lipgloss.NewStyle().Foreground(lipgloss.Color("#C8C8C8")),
		StatusError: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FF5F5F")),
		Dialog:      lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(1, 2),
		Timing:      lipgloss.NewStyle().Foreground(lipgloss.Color("#87D7FF")),
		HelpKey:     lipgloss.NewStyle().Foreground(lipgloss.Color("#B0B0B0")),
		HelpDesc:    lipgloss.NewStyle().Foreground(dim),
		HelpSep:     lipgloss.NewStyle().Foreground(lipgloss.Color("#4A4A4A")),
	}
}
