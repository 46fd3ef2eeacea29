package common

import "charm.land/bubbles/v2/key"

// KeyMap holds the app-wide bindings; views define their own next to their Update and show both in
// the help bar.
type KeyMap struct {
	Quit      key.Binding
	ForceQuit key.Binding
	Help      key.Binding
	NextPage  key.Binding
	PrevPage  key.Binding
	Page1     key.Binding
	Page2     key.Binding
	Page3     key.Binding
	Page4     key.Binding
	Page5     key.Binding
	Page6     key.Binding
	Confirm   key.Binding
	Cancel    key.Binding
}

// DefaultKeyMap is the workbench's global keys. The page keys have alt variants so they also work
// while a text field has the keyboard.
func DefaultKeyMap() *KeyMap {
	return &KeyMap{
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "stop job & quit")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
		NextPage:  key.NewBinding(key.WithKeys("alt+right", "ctrl+right"), key.WithHelp("ctrl+→", "next view")),
		PrevPage:  key.NewBinding(key.WithKeys("alt+left", "ctrl+left"), key.WithHelp("ctrl+←", "prev view")),
		Page1:     key.NewBinding(key.WithKeys("1", "alt+1"), key.WithHelp("1-6", "views")),
		Page2:     key.NewBinding(key.WithKeys("2", "alt+2")),
		Page3:     key.NewBinding(key.WithKeys("3", "alt+3")),
		Page4:     key.NewBinding(key.WithKeys("4", "alt+4")),
		Page5:     key.NewBinding(key.WithKeys("5", "alt+5")),
		Page6:     key.NewBinding(key.WithKeys("6", "alt+6")),
		Confirm:   key.NewBinding(key.WithKeys("y", "enter"), key.WithHelp("y", "yes")),
		Cancel:    key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n", "no")),
	}
}
