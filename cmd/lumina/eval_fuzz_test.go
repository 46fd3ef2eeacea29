package main

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/internal/fuzzseed"
)

// FuzzEvalImage decodes fuzzed files as `lumina eval --images` reads each PNG of its folder (PNG chunk
// checksums repaired, so changes to the header reach the decoder). Nothing panics; a header that
// claims more than the importer's pixel limit is refused before the image is allocated; whatever
// decodes has the size its header claims.
func FuzzEvalImage(f *testing.F) {
	ps, err := toyeval.Suite("quick")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range ps[:3] {
		img, err := world.Render(p.Scene, 32, 32)
		if err != nil {
			f.Fatal(err)
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add(fuzzseed.PNGHeader(100000, 100000, 16, 6, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = fuzzseed.FixPNGChecksums(data)
		path := fuzzseed.WriteTemp(t, "image.png", data)
		var claimed int64
		cfg, cfgErr := png.DecodeConfig(bytes.NewReader(data))
		if cfgErr == nil {
			claimed = int64(cfg.Width) * int64(cfg.Height)
		}
		var img image.Image
		n := fuzzseed.Allocated(func() { img, err = evalDecodePNG(path) })
		if n > fuzzseed.ImageAllocLimit(len(data), min(max(claimed, 0), dataset.MaxImportPixels)) {
			t.Fatalf("%d bytes claiming %d×%d allocated %d (error: %v)", len(data), cfg.Width, cfg.Height, n, err)
		}
		if err != nil {
			return
		}
		if claimed > dataset.MaxImportPixels || img.Bounds().Size() != image.Pt(cfg.Width, cfg.Height) {
			t.Fatalf("decoded %v from a header claiming %d×%d", img.Bounds(), cfg.Width, cfg.Height)
		}
	})
}
