package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// cudaFile says which headers of the preprocessed text are the toolkit's (the rest is libc and gcc).
var cudaFile = regexp.MustCompile(`^(cuda|cublas|cudnn|cuComplex|driver_types|library_types|vector_types|host_defines)`)

var (
	cgoRef  = regexp.MustCompile(`\bC\.([A-Za-z_]\w*)`)
	cIdent  = regexp.MustCompile(`[A-Za-z_]\w*`)
	marker  = regexp.MustCompile(`^# \d+ "([^"]+)"`)
	defLine = regexp.MustCompile(`^#define\s+([A-Za-z_]\w*)(\([^)]*\))?\s*(.*)$`)
	tagRef  = regexp.MustCompile(`\b(struct|union|enum)\s+([A-Za-z_]\w*)`)
	// aggregate starts a declaration whose braces are a type's body, not a function's.
	aggregate = regexp.MustCompile(`^\s*(typedef|struct|union|enum)\b`)
	// attribute is a GNU attribute (deprecation marks precede many driver functions).
	attribute = regexp.MustCompile(`__attribute__\s*\(\([^()]*(\([^()]*\))?[^()]*\)\)`)
)

// item is one top-level declaration or macro of the preprocessed toolkit headers.
type item struct {
	text    string
	macro   bool
	defines []string // names it declares ("struct X" for tags)
}

// usedNames lists the identifiers the cgo code of dirs names: C.x in Go files with import "C", and
// every identifier of their .c and .h files (which include the same header).
func usedNames(dirs []string) (map[string]bool, error) {
	need := map[string]bool{}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // a folder
			}
			switch {
			case strings.HasSuffix(f, "_test.go"):
			case strings.HasSuffix(f, ".go") && bytes.Contains(b, []byte(`import "C"`)):
				for _, m := range cgoRef.FindAllStringSubmatch(string(b), -1) {
					n := m[1]
					for _, p := range []string{"struct_", "enum_", "union_"} {
						if strings.HasPrefix(n, p) {
							n = strings.TrimSuffix(p, "_") + " " + n[len(p):]
						}
					}
					need[strings.TrimPrefix(n, "sizeof_")] = true
				}
				// The preamble's own C (between the comment lines before import "C").
				for _, id := range cIdent.FindAllString(preamble(string(b)), -1) {
					need[id] = true
				}
			case strings.HasSuffix(f, ".c") || strings.HasSuffix(f, ".h"):
				for _, id := range cIdent.FindAllString(string(b), -1) {
					need[id] = true
				}
				for _, m := range tagRef.FindAllStringSubmatch(string(b), -1) {
					need[m[1]+" "+m[2]] = true
				}
			}
		}
	}
	return need, nil
}

// preamble returns the cgo preamble of a Go file: the comment right above import "C".
func preamble(src string) string {
	i := strings.Index(src, `import "C"`)
	if i < 0 {
		return ""
	}
	lines := strings.Split(src[:i], "\n")
	var out []string
	for j := len(lines) - 2; j >= 0; j-- {
		l := strings.TrimSpace(lines[j])
		if !strings.HasPrefix(l, "//") {
			break
		}
		out = append(out, strings.TrimPrefix(l, "//"))
	}
	return strings.Join(out, "\n")
}

// parseItems splits gcc -E -dD output into the toolkit's top-level items.
func parseItems(pre string) []item {
	var items []item
	var buf strings.Builder
	keep := false
	depth := 0
	flush := func() {
		t := strings.TrimSpace(buf.String())
		buf.Reset()
		if t != "" && keep {
			items = append(items, item{text: t})
		}
	}
	sc := bufio.NewScanner(strings.NewReader(pre))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if m := marker.FindStringSubmatch(line); m != nil {
			keep = cudaFile.MatchString(filepath.Base(m[1]))
			continue
		}
		if strings.HasPrefix(line, "#") {
			if m := defLine.FindStringSubmatch(line); m != nil && keep && depth == 0 {
				items = append(items, item{text: line, macro: true, defines: []string{m[1]}})
			}
			continue
		}
		for _, r := range line {
			buf.WriteRune(r)
			switch r {
			case '{', '(':
				depth++
			case ')':
				depth--
			case '}':
				depth--
				// A function definition (cuComplex.h's inline helpers) ends at its closing brace.
				if depth == 0 && !aggregate.MatchString(buf.String()) {
					flush()
				}
			case ';':
				if depth == 0 {
					flush()
				}
			}
		}
		buf.WriteByte('\n')
	}
	flush()
	return items
}

// declared fills in what each declaration item declares: the typedef or function name, the enum
// constants, the tags.
func declared(it *item) {
	t := it.text
	add := func(n string) { it.defines = append(it.defines, n) }
	for _, m := range tagRef.FindAllStringSubmatch(t, -1) {
		add(m[1] + " " + m[2])
	}
	// Enum constants: the first identifier of each comma-separated element of an enum body.
	if i := strings.Index(t, "enum"); i >= 0 {
		if o := strings.Index(t[i:], "{"); o >= 0 {
			if c := strings.Index(t[i+o:], "}"); c >= 0 {
				for _, el := range strings.Split(t[i+o+1:i+o+c], ",") {
					if id := cIdent.FindString(el); id != "" {
						add(id)
					}
				}
			}
		}
	}
	// Outside braces: the typedef name (last identifier, or the one after "(*"), or the function
	// name (the identifier before the first top-level "(").
	flat := attribute.ReplaceAllString(stripBraces(t), "")
	if strings.HasPrefix(strings.TrimSpace(flat), "typedef") {
		if i := strings.Index(flat, "(*"); i >= 0 {
			add(cIdent.FindString(flat[i+2:]))
		} else if i := strings.Index(flat, "( *"); i >= 0 {
			add(cIdent.FindString(flat[i+3:]))
		} else {
			ids := cIdent.FindAllString(flat, -1)
			add(ids[len(ids)-1])
		}
		return
	}
	if i := strings.Index(flat, "("); i >= 0 {
		ids := cIdent.FindAllString(flat[:i], -1)
		if len(ids) > 0 {
			add(ids[len(ids)-1])
		}
	}
}

func stripBraces(s string) string {
	var b strings.Builder
	d := 0
	for _, r := range s {
		switch {
		case r == '{':
			d++
		case r == '}':
			d--
		case d == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// subsetHeaders preprocesses args[0] (a header name, found in include) and keeps the items that the
// cgo code of the folders args[1:] needs, transitively.
func subsetHeaders(include string, args []string) ([]byte, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("mode headers takes a header name and the package folders using it")
	}
	header := args[0]
	need, err := usedNames(args[1:])
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("gcc", "-E", "-dD", "-I", include, "-x", "c", "-")
	cmd.Stdin = strings.NewReader("#include <" + header + ">\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pre, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gcc -E %s: %w: %s", header, err, stderr.String())
	}
	items := parseItems(string(pre))
	owner := map[string][]int{} // name → the items that declare it
	for i := range items {
		if !items[i].macro {
			declared(&items[i])
		}
		for _, n := range items[i].defines {
			if items[i].macro || len(owner[n]) == 0 || items[owner[n][0]].macro {
				owner[n] = append(owner[n], i)
			}
		}
	}
	keep := make([]bool, len(items))
	var queue []string
	for n := range need {
		queue = append(queue, n)
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		n := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		for _, i := range owner[n] {
			if keep[i] {
				continue
			}
			keep[i] = true
			body := items[i].text
			for _, id := range cIdent.FindAllString(body, -1) {
				queue = append(queue, id)
			}
			for _, m := range tagRef.FindAllStringSubmatch(body, -1) {
				queue = append(queue, m[1]+" "+m[2])
			}
		}
	}
	var missing []string
	for n := range need {
		if len(owner[n]) == 0 && !strings.Contains(n, " ") && strings.HasPrefix(strings.ToLower(n), "cu") {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	var b bytes.Buffer
	guard := "LUMINA_DECLS_" + strings.ToUpper(strings.NewReplacer(".", "_", "/", "_").Replace(header))
	fmt.Fprintf(&b, "/* Code generated by tools/cuda/gendecls from the CUDA toolkit's %s. DO NOT EDIT.\n", header)
	b.WriteString(" * The declarations the cgo code of gorgonia.org/cu needs to compile, and nothing else: a build-time\n")
	b.WriteString(" * stand-in for the toolkit's header. A binary built with it calls the real libraries at run time. */\n")
	fmt.Fprintf(&b, "#ifndef %s\n#define %s\n#include <stddef.h>\n#include <stdint.h>\n#include <stdlib.h>\n\n", guard, guard)
	for i, it := range items {
		if keep[i] {
			b.WriteString(it.text)
			b.WriteString("\n")
			if !it.macro {
				b.WriteString("\n")
			}
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "\n/* named by the cgo code but not in %s: %s */\n", header, strings.Join(missing, " "))
	}
	b.WriteString("\n#endif\n")
	return b.Bytes(), nil
}

// stubSource returns a C file that defines, as empty functions, every function the header at path
// declares: linked into a stub shared library, it lets the linker resolve a cuda build's imports. It is
// never loaded: at run time the real library of the same SONAME is.
func stubSource(path string) ([]byte, error) {
	cmd := exec.Command("gcc", "-E", "-dD", "-x", "c", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pre, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gcc -E %s: %w: %s", path, err, stderr.String())
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "/* Link-only stubs for the functions of %s (tools/cuda/gendecls). */\n", filepath.Base(path))
	seen := map[string]bool{}
	for _, it := range parseItems(string(pre)) {
		if it.macro || strings.HasPrefix(strings.TrimSpace(it.text), "typedef") || !strings.Contains(it.text, "(") {
			continue
		}
		declared(&it)
		for _, n := range it.defines {
			if !strings.Contains(n, " ") && !seen[n] {
				seen[n] = true
				fmt.Fprintf(&b, "void %s(void) {}\n", n)
			}
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%s declares no function", path)
	}
	return b.Bytes(), nil
}
