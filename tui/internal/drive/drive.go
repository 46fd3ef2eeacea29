// Package drive runs Bubble Tea commands and key presses in the tui packages' tests the way the
// program would, without a terminal. Nothing in the shipped binary imports it.
package drive

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// named are the keys the tests press by name.
var named = map[string]tea.KeyPressMsg{
	"enter":     {Code: tea.KeyEnter},
	"tab":       {Code: tea.KeyTab},
	"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
	"esc":       {Code: tea.KeyEscape},
	"up":        {Code: tea.KeyUp},
	"down":      {Code: tea.KeyDown},
	"left":      {Code: tea.KeyLeft},
	"right":     {Code: tea.KeyRight},
	"pgdown":    {Code: tea.KeyPgDown},
	"pgup":      {Code: tea.KeyPgUp},
	"backspace": {Code: tea.KeyBackspace},
	"space":     {Code: tea.KeySpace, Text: " "},
}

// Key is the press a name describes: one of the named keys, "ctrl+" and a letter, or one character
// (typed as text).
func Key(name string) tea.KeyPressMsg {
	if k, ok := named[name]; ok {
		return k
	}
	if r := []rune(name); len(r) == 6 && string(r[:5]) == "ctrl+" {
		return tea.KeyPressMsg{Code: r[5], Mod: tea.ModCtrl}
	}
	return tea.KeyPressMsg{Code: []rune(name)[0], Text: name}
}

// Messages executes a command, expanding batches, and returns its messages without applying them.
func Messages(c tea.Cmd) []tea.Msg {
	if c == nil {
		return nil
	}
	msg := c()
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, sub := range b {
			out = append(out, Messages(sub)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

// Settle feeds cmd's messages to update, and the messages of the commands update returns,
// breadth-first, until no command is left. Commands must not block.
func Settle(t testing.TB, update func(tea.Msg) tea.Cmd, cmd tea.Cmd) {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0; n++ {
		if n > 10000 {
			t.Fatal("commands never settle")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			queue = append(queue, update(msg))
		}
	}
}

// Pump runs commands the way the program does, each in its own goroutine (so a command may block on a
// running job), and feeds their messages to update on the test's goroutine.
type Pump struct {
	t      testing.TB
	update func(tea.Msg) tea.Cmd
	msgs   chan tea.Msg
}

// NewPump makes a pump over update.
func NewPump(t testing.TB, update func(tea.Msg) tea.Cmd) *Pump {
	return &Pump{t: t, update: update, msgs: make(chan tea.Msg, 1024)}
}

// Go starts cmd; its messages (a batch's, each) arrive through Until.
func (p *Pump) Go(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		switch msg := cmd().(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				p.Go(c)
			}
		default:
			p.msgs <- msg
		}
	}()
}

// Until applies messages until cond holds, failing the test after timeout. cond is also asked every
// 20 ms while no message comes, so it may move a blocked job on (release a gate) itself.
func (p *Pump) Until(what string, cond func() bool, timeout time.Duration) {
	p.t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case msg := <-p.msgs:
			p.Go(p.update(msg))
		case <-tick.C:
		case <-deadline:
			p.t.Fatalf("%s: not within %v", what, timeout)
		}
	}
}
