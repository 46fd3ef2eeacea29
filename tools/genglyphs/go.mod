// A separate module: the rasteriser needs golang.org/x/text (through x/image/font/sfnt), which the
// workbench itself never does, so the main module's dependency list stays as it is.
module github.com/lumina-workbench/lumina/tools/genglyphs

go 1.26.7

require (
	github.com/lumina-workbench/lumina v0.0.0
	golang.org/x/image v0.48.0
)

require (
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace github.com/lumina-workbench/lumina => ../..
