package ablation

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// syntheticResults are a complete sweep's results with chosen scores and wall times.
func syntheticResults(g *Grid, score func(c Cell, p, s int) float64) []Result {
	var rs []Result
	for _, c := range g.Cells() {
		for pi, pr := range g.Prompts {
			for s := range g.Seeds {
				rs = append(rs, Result{Cell: c.ID, Settings: c.Setting, PromptID: pr.ID, Category: pr.Category, Seed: s,
					NFE: c.Setting.Steps - 1, Forwards: 2 * (c.Setting.Steps - 1), WallMs: float64(10 * c.Setting.Steps),
					Score: score(c, pi, s), Clipped: float64(c.Index) / 10, Image: ImagePath(Key{c.ID, pr.ID, s})})
			}
		}
	}
	return rs
}

func testGrid(t *testing.T) *Grid {
	t.Helper()
	g, err := ParseGrid([]byte("method: grid\nparameters:\n  steps: {values: [10, 20]}\n  renorm: {values: [0, 1]}\nprompts: quick\nseeds: 3\nreference: {steps: 20, renorm: 0}\n"), "t.yaml", testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// The summary is a function of the results' content, not their order, and refuses an incomplete sweep.
func TestSummaryDeterministic(t *testing.T) {
	g := testGrid(t)
	rs := syntheticResults(g, func(c Cell, p, s int) float64 { return float64((c.Index*7+p*3+s)%4) / 4 })
	write := func(rs []Result) (string, string) {
		s, err := Summarize(g, rs)
		if err != nil {
			t.Fatal(err)
		}
		var md, csv bytes.Buffer
		s.WriteMarkdown(&md)
		s.WriteCSV(&csv)
		return md.String(), csv.String()
	}
	md, csv := write(rs)
	shuffled := append([]Result(nil), rs...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	md2, csv2 := write(shuffled)
	if md != md2 || csv != csv2 {
		t.Error("the same results in another order summarise differently")
	}
	for _, want := range []string{"| 2 | steps-20_renorm-0 | 20 | 0 | 19 | 38 | 0.0 |", "## Speed", "2.00× [2.00, 2.00]",
		"| 1 | steps-10_renorm-1 | 0.1000 [0.1000, 0.1000] | -0.1000 [-0.1000, -0.1000] * | 0.0000 [0.0000, 0.0000] | +0.0000 [+0.0000, +0.0000] |"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	// Other wall times change the speed section and the wall columns only.
	slower := append([]Result(nil), rs...)
	for i := range slower {
		slower[i].WallMs *= 1 + float64(i%5)/10
	}
	md3, csv3 := write(slower)
	for _, f := range []struct{ name, a, b string }{{SummaryMD, md, md3}, {SummaryCSV, csv, csv3}} {
		ua, _ := Untimed(f.name, []byte(f.a))
		ub, _ := Untimed(f.name, []byte(f.b))
		if f.a == f.b || ua != ub || len(ua) < len(f.a)/3 {
			t.Errorf("%s: other wall times should change the file but not its untimed part", f.name)
		}
	}
	if _, err := Summarize(g, rs[1:]); err == nil || !strings.Contains(err.Error(), "1 of 216 images are not made yet") {
		t.Errorf("incomplete results: %v", err)
	}
}
