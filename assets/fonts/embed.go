// Package fonts holds the glyph atlas the contact sheet draws its English and Chinese captions with.
//
// The atlas is generated once from Noto Sans CJK by tools/genglyphs (run `go run ./tools/genglyphs`
// on a machine that has the font) and committed, so builds and CI need no system fonts. It covers
// printable ASCII and every character the captioner can produce; TestGlyphCoverage in data/dataset
// checks that.
package fonts

import _ "embed"

// AtlasPNG is a grayscale image of every glyph; its grey level is the glyph's coverage.
//
//go:embed glyphs.png
var AtlasPNG []byte

// AtlasIndex is the text index into AtlasPNG (format described in its header lines).
//
//go:embed glyphs.idx
var AtlasIndex []byte
