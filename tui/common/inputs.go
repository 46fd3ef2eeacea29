package common

import (
	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/textarea"
	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"
)

// NewTextarea is a text area in the workbench's palette: a "│ " bar that takes the focus colour, a
// dim placeholder, no line numbers and a steady reverse-video cursor (no colour of its own, so it
// reads on light and dark terminals). The cursor must not blink: a blink would make frames depend on
// the clock.
func NewTextarea(s *Styles) textarea.Model {
	t := textarea.New()
	t.ShowLineNumbers = false
	t.Prompt = "│ "
	StyleTextarea(&t, s)
	return t
}

// StyleTextarea (re)applies the palette to a text area made by NewTextarea, after a theme change.
func StyleTextarea(t *textarea.Model, s *Styles) {
	plain := lipgloss.NewStyle()
	state := textarea.StyleState{
		Base:        plain,
		Text:        plain,
		CursorLine:  plain,
		EndOfBuffer: plain,
		Placeholder: s.Dim,
		Prompt:      s.Dim,
	}
	focused := state
	focused.Prompt = s.Focused
	t.SetStyles(textarea.Styles{
		Focused: focused,
		Blurred: state,
		Cursor:  textarea.CursorStyle{Blink: false},
	})
}

// NewTextInput is a one-line input in the palette, with the text areas' steady cursor: settings
// values, filters, "go to" fields.
func NewTextInput(s *Styles, prompt string) textinput.Model {
	t := textinput.New()
	t.Prompt = prompt
	StyleTextInput(&t, s)
	return t
}

// StyleTextInput (re)applies the palette to an input made by NewTextInput.
func StyleTextInput(t *textinput.Model, s *Styles) {
	state := textinput.StyleState{Text: s.Value, Placeholder: s.Dim, Suggestion: s.Dim, Prompt: s.Focused}
	blurred := state
	blurred.Prompt = s.Dim
	t.SetStyles(textinput.Styles{Focused: state, Blurred: blurred, Cursor: textinput.CursorStyle{Blink: false}})
}

// ProgressBar is a w-cell progress bar with its percentage (" 42%", five cells) at the end: the
// filled part in the Good colour, the rest in the Dim one. Views draw it with ViewAs, so it needs
// no animation loop.
func (s *Styles) ProgressBar(w int) progress.Model {
	p := progress.New(
		progress.WithWidth(w),
		progress.WithColors(s.Good.GetForeground()),
		progress.WithFillCharacters(progress.DefaultFullCharFullBlock, progress.DefaultEmptyCharBlock),
	)
	p.EmptyColor = s.Dim.GetForeground()
	return p
}
