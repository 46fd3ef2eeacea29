package imagebox

import "github.com/charmbracelet/x/ansi"

func lipWidth(s string) int { return ansi.StringWidth(s) }
