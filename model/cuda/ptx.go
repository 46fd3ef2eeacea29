package cuda

import (
	"embed"
	"fmt"
	"regexp"
	"strings"
)

//go:embed ptx/*.ptx
var ptxFS embed.FS

// PTX returns the compiled module name (kernels/NAME.cu).
func PTX(module string) (string, error) {
	b, err := ptxFS.ReadFile("ptx/" + module + ".ptx")
	if err != nil {
		return "", fmt.Errorf("cuda: no PTX module %q: %w", module, err)
	}
	return string(b), nil
}

var ptxEntry = regexp.MustCompile(`(?s)\.visible \.entry (\w+)\((.*?)\)`)

// EntryParams lists a PTX module's kernels and how many parameters each takes.
func EntryParams(ptx string) map[string]int {
	out := map[string]int{}
	for _, m := range ptxEntry.FindAllStringSubmatch(ptx, -1) {
		out[m[1]] = strings.Count(m[2], ".param")
	}
	return out
}
