package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/world"
)

// Flag ranges for `lumina data`. Exports are bounded so that a typo cannot fill a disk.
const (
	maxExportItems = 1_000_000
	maxPoolItems   = dataset.MaxItems
)

var dataCmd = &cobra.Command{
	Use:   "data",
	Short: "Look at, export and import training data",
	Long: `The procedural world the model trains on, and the way in for your own images.

  lumina data preview   a contact sheet PNG: renders with their English and Chinese captions
  lumina data export    write N items as PNG + caption .txt + metadata.jsonl (imagefolder)
  lumina data import    check a folder of your captioned images and summarise it`,
}

func init() {
	dataCmd.AddCommand(newDataPreviewCmd(), newDataExportCmd(), newDataImportCmd())
	rootCmd.AddCommand(dataCmd)
}

func newDataPreviewCmd() *cobra.Command {
	var (
		n, tile, cols int
		seed          uint64
		out, gran     string
	)
	cmd := &cobra.Command{
		Use:   "preview",
		Short: "Write a contact sheet of dataset items with their captions",
		Long: `Renders the first N items of the procedural dataset (seed --seed, default sampler config) into
one PNG: tiles alternate between the flat and photo domains, and sheets of three or more tiles end with
dual-panel (Template C) images. Under each tile its caption is printed in English and in Chinese.`,
		Example: "  lumina data preview --n 8 --out sheet.png\n  lumina data preview --n 12 --granularity detailed --tile 192 --cols 3",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 || n > dataset.MaxSheetTiles {
				return fmt.Errorf("--n %d outside 1..%d", n, dataset.MaxSheetTiles)
			}
			if tile < world.MinRenderSide || tile > world.MaxRenderSide || tile%2 != 0 {
				return fmt.Errorf("--tile %d must be even and in %d..%d", tile, world.MinRenderSide, world.MaxRenderSide)
			}
			if cols < 0 || cols > dataset.MaxSheetTiles {
				return fmt.Errorf("--cols %d outside 0..%d (0 = min(n, 4))", cols, dataset.MaxSheetTiles)
			}
			g, err := caption.ParseGranularity(gran)
			if err != nil {
				return fmt.Errorf("--granularity: %w", err)
			}
			if err := dataCheckOutFile("--out", out, ".png"); err != nil {
				return err
			}
			ds, err := dataset.New(seed, n, world.DefaultSamplerConfig())
			if err != nil {
				return err
			}
			sheet, err := dataset.ContactSheet(ds, dataset.SheetOptions{N: n, Tile: tile, Cols: cols, Granularity: g})
			if err != nil {
				return err
			}
			if err := dataset.WritePNG(out, sheet); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d×%d, %d tiles)\n", out, sheet.Rect.Dx(), sheet.Rect.Dy(), n)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&n, "n", 8, fmt.Sprintf("number of tiles (1..%d)", dataset.MaxSheetTiles))
	f.StringVar(&out, "out", "sheet.png", "output PNG file")
	f.Uint64Var(&seed, "seed", 1, "dataset seed")
	f.IntVar(&tile, "tile", 160, fmt.Sprintf("side of each render in pixels (even, %d..%d)", world.MinRenderSide, world.MaxRenderSide))
	f.IntVar(&cols, "cols", 0, "tiles per row (0 = min(n, 4))")
	f.StringVar(&gran, "granularity", "short", "caption granularity drawn under each tile: detailed, medium, short or tag")
	return cmd
}

func newDataExportCmd() *cobra.Command {
	var (
		n, res, pool    int
		seed            uint64
		subset          float64
		out, gran, lang string
		force           bool
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write dataset items as PNG + caption files + metadata.jsonl",
		Long: `Renders N items of the procedural dataset to --out as NNNNNN.png with the caption in NNNNNN.txt
(kohya's layout) and one metadata.jsonl line per item (Hugging Face imagefolder's layout) holding the
file name, the caption ("text"), the scene, its quality score and the captions at every granularity in
English and Chinese. NNNNNN is the item's index in the dataset.

--subset picks a quality tier: the top 100%, 10% or 1% (any percentage in (0, 100] works) of a pool of
--pool items ranked by quality; the first N of the tier are written. The default pool is just large
enough to hold N items in the tier. Every file is written atomically; metadata.jsonl comes last.`,
		Example: "  lumina data export --n 1000 --res 64 --out data/world64\n  lumina data export --n 100 --res 32 --subset 10 --out data/hq --granularity short --lang zh",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 || n > maxExportItems {
				return fmt.Errorf("--n %d outside 1..%d", n, maxExportItems)
			}
			if res < world.MinRenderSide || res > world.MaxRenderSide {
				return fmt.Errorf("--res %d outside %d..%d", res, world.MinRenderSide, world.MaxRenderSide)
			}
			if !(subset > 0 && subset <= 100) {
				return fmt.Errorf("--subset %g outside (0, 100] (percent of the pool, e.g. 100, 10 or 1)", subset)
			}
			need := int(math.Ceil(float64(n) * 100 / subset))
			if pool == 0 {
				pool = need
			}
			if pool < 1 || pool > maxPoolItems {
				return fmt.Errorf("--pool %d outside 1..%d", pool, maxPoolItems)
			}
			if got := dataset.SubsetSize(pool, subset); got < n {
				return fmt.Errorf("--pool %d: its top %g%% holds %d items, fewer than --n %d (use --pool %d or more)", pool, subset, got, n, need)
			}
			g, err := caption.ParseGranularity(gran)
			if err != nil {
				return fmt.Errorf("--granularity: %w", err)
			}
			l, err := caption.ParseLang(lang)
			if err != nil {
				return fmt.Errorf("--lang: %w", err)
			}
			if out == "" {
				return fmt.Errorf("--out is required (the folder to export into)")
			}
			ds, err := dataset.New(seed, pool, world.DefaultSamplerConfig())
			if err != nil {
				return err
			}
			sum, err := dataset.Export(ds, out, dataset.ExportOptions{N: n, Res: res, Subset: subset,
				TextGranularity: g, TextLang: l, Overwrite: force}, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %d items at %d×%d to %s (top %g%% of %d, mean quality %.3f)\n",
				sum.Items, res, res, out, subset, pool, sum.MeanQual)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&n, "n", 100, fmt.Sprintf("number of items to write (1..%d)", maxExportItems))
	f.IntVar(&res, "res", 64, fmt.Sprintf("image side in pixels (%d..%d)", world.MinRenderSide, world.MaxRenderSide))
	f.StringVar(&out, "out", "", "folder to write into (created; must be empty unless --force)")
	f.Uint64Var(&seed, "seed", 1, "dataset seed")
	f.Float64Var(&subset, "subset", 100, "quality tier in percent of the pool: 100, 10, 1 or any value in (0, 100]")
	f.IntVar(&pool, "pool", 0, "dataset size the tier is taken from (0 = just enough for --n)")
	f.StringVar(&gran, "granularity", "detailed", "caption written to NAME.txt and \"text\": detailed, medium, short or tag")
	f.StringVar(&lang, "lang", "en", "language of that caption: en or zh")
	f.BoolVar(&force, "force", false, "export into a folder that already holds files (same-named files are replaced)")
	return cmd
}

func newDataImportCmd() *cobra.Command {
	var (
		dir string
		res int
	)
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Check a folder of captioned images and summarise it",
		Long: `Reads a folder of your own images with captions, in any of three layouts:

  kohya        NAME.png + NAME.txt (the caption, UTF-8)
  imagefolder  metadata.jsonl, one {"file_name": ..., "text": ...} per line
  json         NAME.png + NAME.json with a "text", "caption" or "prompt" string

Images may be PNG, JPEG, GIF, BMP or WebP. Every image is decoded and resized to --res (shorter side
scaled, then centre-cropped), exactly as training will load it. Any unreadable image, unreadable or
non-UTF-8 caption, or image without a caption is reported by file name, all of them at once, and the
folder is refused.`,
		Example: "  lumina data import --dir ~/my-shapes --res 64",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("--dir is required (the folder to check)")
			}
			if res < dataset.MinImportRes || res > dataset.MaxImportRes {
				return fmt.Errorf("--res %d outside %d..%d", res, dataset.MinImportRes, dataset.MaxImportRes)
			}
			set, err := dataset.ImportFolder(dir, res)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: %d images, layout %s, resized to %d×%d\n", dir, len(set.Items), set.Layout, res, res)
			var minW, minH, maxW, maxH, words, runes, withScene int
			minW, minH = math.MaxInt, math.MaxInt
			for _, it := range set.Items {
				minW, maxW = min(minW, it.OrigSize.X), max(maxW, it.OrigSize.X)
				minH, maxH = min(minH, it.OrigSize.Y), max(maxH, it.OrigSize.Y)
				words += len(strings.Fields(it.Caption))
				runes += len([]rune(it.Caption))
				if it.Scene != nil {
					withScene++
				}
			}
			k := float64(len(set.Items))
			fmt.Fprintf(w, "  original sizes: %d..%d × %d..%d\n", minW, maxW, minH, maxH)
			fmt.Fprintf(w, "  captions: mean %.1f words, %.1f characters\n", float64(words)/k, float64(runes)/k)
			if withScene > 0 {
				fmt.Fprintf(w, "  %d items carry a lumina scene (an export of the procedural world)\n", withScene)
			}
			for i, it := range set.Items {
				if i == 3 {
					break
				}
				fmt.Fprintf(w, "  %s  %q\n", filepath.ToSlash(it.Name), dataTruncate(it.Caption, 70))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the folder of images and captions")
	f.IntVar(&res, "res", 64, fmt.Sprintf("training resolution to resize to (%d..%d)", dataset.MinImportRes, dataset.MaxImportRes))
	return cmd
}

// dataCheckOutFile refuses an empty path, one with the wrong extension or one whose folder cannot take
// it, before any work starts.
func dataCheckOutFile(flag, path, ext string) error {
	if path == "" {
		return fmt.Errorf("%s is required", flag)
	}
	if !strings.EqualFold(filepath.Ext(path), ext) {
		return fmt.Errorf("%s %q must end in %s", flag, path, ext)
	}
	return checkOutFile(flag, path)
}

func dataTruncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
