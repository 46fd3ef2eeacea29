package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/spf13/cobra"
)

func init() { rootCmd.AddCommand(newModelCmd()) }

func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Inspect Next-DiT architectures",
	}
	var config string
	var asJSON bool
	info := &cobra.Command{
		Use:   "info",
		Short: "Print a config's shapes and parameter count with a per-part breakdown",
		Long: "Print a Next-DiT config: width, depth, heads, head_dim, RoPE axes, FFN hidden width, adaLN width,\n" +
			"patch, channels, caption width, and the parameter count split into embedders, refiners, main\n" +
			"layers and final layer. --config takes a registered name (" + strings.Join(arch.ConfigNames(), ", ") + ")\n" +
			"or the path of a YAML/JSON file holding a config.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := arch.ResolveConfig(config)
			if err != nil {
				return fmt.Errorf("--config: %w", err)
			}
			if asJSON {
				return writeInfoJSON(cmd.OutOrStdout(), c)
			}
			return writeInfo(cmd.OutOrStdout(), c)
		},
	}
	info.Flags().StringVar(&config, "config", "tiny", "config name or YAML/JSON file")
	info.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.AddCommand(info)
	return cmd
}

type modelInfo struct {
	arch.Config
	HeadDim   int               `json:"head_dim"`
	FFNHidden int               `json:"ffn_hidden"`
	AdaDim    int               `json:"adaln_dim"`
	PatchDim  int               `json:"patch_dim"`
	Params    int64             `json:"params"`
	Groups    []arch.ParamGroup `json:"param_groups"`
}

func writeInfoJSON(w io.Writer, c arch.Config) error {
	b, err := json.MarshalIndent(modelInfo{Config: c, HeadDim: c.HeadDim(), FFNHidden: c.FFNHidden(), AdaDim: c.AdaDim(),
		PatchDim: c.Patch * c.Patch * c.Channels, Params: c.ParamCount(), Groups: c.ParamGroups()}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func writeInfo(w io.Writer, c arch.Config) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("config", "%s", c.Name)
	row("dim", "%d", c.Dim)
	row("layers", "%d", c.Layers)
	row("heads", "%d query, %d key/value (%d queries per kv head)", c.Heads, c.KVHeads, c.Heads/c.KVHeads)
	row("head_dim", "%d", c.HeadDim())
	row("axes_dims", "%d, %d, %d (caption index, row, col)", c.AxesDims[0], c.AxesDims[1], c.AxesDims[2])
	if c.RopeGrid > 0 {
		row("rope_grid", "%d (image positions in 1/%d of the shorter side, not in patches)", c.RopeGrid, c.RopeGrid)
	}
	row("text injection", "%s", textInjectionInfo(c))
	row("FFN hidden", "%d (SwiGLU, 4·dim rounded up to %d)", c.FFNHidden(), c.MultipleOf)
	row("adaLN width", "%d", c.AdaDim())
	row("refiners", "%d noise + %d context", c.Refiners, c.Refiners)
	row("patch", "%d (%d values per token)", c.Patch, c.Patch*c.Patch*c.Channels)
	row("channels", "%d", c.Channels)
	row("cap_dim", "%d", c.CapDim)
	total := c.ParamCount()
	row("parameters", "%s", paramCountString(total))
	for _, g := range c.ParamGroups() {
		row("  "+g.Name, "%s\t%5.1f%%", paramCountString(g.Count), 100*float64(g.Count)/float64(total))
	}
	return tw.Flush()
}

// paramCountString renders a parameter count as "2.61B (2,609,769,152)".
func paramCountString(n int64) string {
	f := float64(n)
	var short string
	switch {
	case f >= 1e9:
		short = fmt.Sprintf("%.2fB", f/1e9)
	case f >= 1e6:
		short = fmt.Sprintf("%.2fM", f/1e6)
	case f >= 1e3:
		short = fmt.Sprintf("%.2fK", f/1e3)
	default:
		return strconv.FormatInt(n, 10)
	}
	return short + " (" + thousands(n) + ")"
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// textInjectionInfo says how the caption reaches the image tokens.
func textInjectionInfo(c arch.Config) string {
	if c.Cross() {
		return "cross (image tokens in the main layers, caption read by cross-attention)"
	}
	return "joint (caption and image tokens in one sequence)"
}
