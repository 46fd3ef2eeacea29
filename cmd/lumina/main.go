// Command lumina is the workbench: the TUI with no arguments, and every part of the recipe headless
// through its subcommands (train, sample, eval, data, model, ablate).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// rootCmd is shared by the subcommand files; each registers itself in its own init.
var rootCmd = &cobra.Command{
	Use:           "lumina",
	Short:         "A terminal workbench for the Lumina-Image 2.0 recipe",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "lumina:", err)
		os.Exit(1)
	}
}
