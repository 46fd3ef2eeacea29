package arch

import (
	"encoding/json"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lumina-workbench/lumina/internal/fuzzseed"
)

// paramListAllocLimit bounds what listing a valid config's parameters may allocate. Checkpoint
// readers list them from a file's metadata before they look at its tensors, so a config that parses
// must not ask for billions of entries.
const paramListAllocLimit = 64 << 20

// FuzzParseConfig: no text panics; a config that parses is valid, lists its parameters within
// paramListAllocLimit, every size positive and the total what the hand formula gives, and writing it
// back as JSON or YAML parses to the same config.
func FuzzParseConfig(f *testing.F) {
	for _, n := range ConfigNames() {
		c, _ := LookupConfig(n)
		j, _ := json.Marshal(c)
		y, _ := yaml.Marshal(c)
		f.Add(j)
		f.Add(y)
	}
	_, meta := fuzzseed.CheckpointHeader(f, fuzzseed.ShippedCheckpoint)
	f.Add([]byte(meta["config"]))
	// The parity fixture's config nests the architecture under "arch": refused as a whole.
	f.Add(fuzzseed.Read(f, "model/testdata/parity/config.json"))
	f.Add([]byte("dim: 128\nlayers: 4\nheads: 4\nkv_heads: 2\naxes_dims: [8, 12, 12]\nmultiple_of: 256\n" +
		"refiners: 1\npatch: 4\nchannels: 3\ncap_dim: 128\nfreq_dim: 256\nadaln_max: 1024\nnorm_eps: 1e-5\nrope_grid: 64\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b, "fallback")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig returned an invalid config: %v", err)
		}
		if c.Name == "" {
			t.Fatal("empty name despite the fallback")
		}
		var ps []Param
		if n := fuzzseed.Allocated(func() { ps = c.ParamShapes() }); n > paramListAllocLimit {
			t.Fatalf("listing the parameters of %+v allocated %d bytes", c, n)
		}
		var total int64
		for _, p := range ps {
			if p.Size() <= 0 {
				t.Fatalf("%+v: parameter %s has shape %v", c, p.Name, p.Shape)
			}
			total += int64(p.Size())
		}
		if h := handCount(c); total != h || c.ParamCount() != h {
			t.Fatalf("%+v: parameters sum to %d, the hand formula gives %d", c, total, h)
		}
		for _, enc := range []func(any) ([]byte, error){json.Marshal, yaml.Marshal} {
			out, err := enc(c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseConfig(out, "other")
			if err != nil || again != c {
				t.Fatalf("%+v written as %s reads back as %+v (%v)", c, out, again, err)
			}
		}
	})
}
