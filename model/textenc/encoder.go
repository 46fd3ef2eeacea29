package textenc

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/exec"
)

// Encoder turns captions into caption features for the Next-DiT: tokenise (with <bos> first, as Gemma
// does, so even the empty caption of CFG's unconditional branch has one token), run the frozen LM, and
// keep the hidden states of the real tokens at LMConfig.FeatureDepth (by default the second-to-last
// layer's).
type Encoder struct {
	Tok   *Tokenizer
	Cfg   arch.LMConfig
	Dtype tensor.Dtype
	W     map[string]*tensor.Dense
	// PromptOnly keeps, of a text with a system prompt, only <bos> and the tokens after its last
	// <Prompt Start>: the LM still reads the system prompt, so (being causal) every prompt token's
	// features are conditioned on it, but the DiT does not attend to the system prompt's own positions.
	// See CaptionContextPrompt for why a preset would want this.
	PromptOnly bool
	// Run, when set, runs a feature graph (its tokens set) and returns lm.Features' value, [B, L, Dim]
	// flattened: a device does, in place of the host machine.
	Run    func(lm *LM) ([]float64, error)
	graphs map[[2]int]*featureGraph
	// arena is where every graph runs on the host: one at a time, its features copied out at once, so
	// a graph kept per caption length costs only its description.
	arena exec.Arena
}

// runBucket rounds the lengths of the graphs Run runs.
const runBucket = 16

type featureGraph struct {
	lm   *LM
	mach *exec.Machine // made on the first host run
}

// NewEncoder wraps a tokenizer and LM weights; the weights are checked when the first graph is built.
func NewEncoder(tok *Tokenizer, cfg arch.LMConfig, w map[string]*tensor.Dense, dt tensor.Dtype) (*Encoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if tok.Size() != cfg.Vocab {
		return nil, fmt.Errorf("text encoder: tokenizer has %d tokens, model vocabulary %d", tok.Size(), cfg.Vocab)
	}
	return &Encoder{Tok: tok, Cfg: cfg, Dtype: dt, W: w, graphs: map[[2]int]*featureGraph{}}, nil
}

// Tokenize encodes each text as <bos> + tokens, cut to maxLen tokens in all.
func (e *Encoder) Tokenize(texts []string, maxLen int) (ids [][]int, lens []int, err error) {
	bos, ok := e.Tok.ID("<bos>")
	if !ok {
		return nil, nil, fmt.Errorf("text encoder: tokenizer has no <bos>")
	}
	if maxLen < 1 || maxLen > e.Cfg.MaxLen {
		return nil, nil, fmt.Errorf("text encoder: max length %d outside 1..%d", maxLen, e.Cfg.MaxLen)
	}
	for i, t := range texts {
		body, _, err := e.Tok.Encode(t, maxLen-1)
		if err != nil {
			return nil, nil, fmt.Errorf("caption %d: %w", i, err)
		}
		row := append([]int{bos}, body...)
		ids = append(ids, row)
		lens = append(lens, len(row))
	}
	return ids, lens, nil
}

// Features runs the encoder on texts and returns caption features [B, L, Dim] flattened, padded to the
// longest text (L), and each text's length in tokens.
// With PromptOnly, maxLen counts the kept tokens (<bos> and the prompt); the LM reads up to its own
// MaxLen.
func (e *Encoder) Features(texts []string, maxLen int) (feats []float64, L int, lens []int, err error) {
	if !e.PromptOnly {
		ids, lens, err := e.Tokenize(texts, maxLen)
		if err != nil {
			return nil, 0, nil, err
		}
		feats, L, err := e.features(ids, lens)
		return feats, L, lens, err
	}
	if maxLen < 1 || maxLen > e.Cfg.MaxLen {
		return nil, 0, nil, fmt.Errorf("text encoder: max length %d outside 1..%d", maxLen, e.Cfg.MaxLen)
	}
	ids, fullLens, err := e.Tokenize(texts, e.Cfg.MaxLen)
	if err != nil {
		return nil, 0, nil, err
	}
	full, fullL, err := e.features(ids, fullLens)
	if err != nil {
		return nil, 0, nil, err
	}
	keep := make([][]int, len(texts)) // per text, the positions kept
	for b, row := range ids {
		first := e.promptStart(row)
		k := []int{0}
		for i := first; i < fullLens[b] && len(k) < maxLen; i++ {
			k = append(k, i)
		}
		keep[b] = k
		L = max(L, len(k))
	}
	D := e.Cfg.Dim
	feats = make([]float64, len(texts)*L*D) // [B, L, D], padding rows zero
	lens = make([]int, len(texts))
	for b, k := range keep {
		lens[b] = len(k)
		for j, i := range k {
			copy(feats[(b*L+j)*D:(b*L+j+1)*D], full[(b*fullL+i)*D:(b*fullL+i+1)*D])
		}
	}
	return feats, L, lens, nil
}

// promptStart is the position in row (<bos> first) of the first token after its last <Prompt Start>, or
// 1, just after <bos>, when it has none: where PromptOnly's kept tokens begin.
func (e *Encoder) promptStart(row []int) int {
	start, _ := e.Tok.ID("<Prompt Start>")
	first := 1
	for i, id := range row {
		if id == start {
			first = i + 1
		}
	}
	return first
}

// Count reports how many of text's tokens Features keeps at maxLen (kept) and how many it would keep
// without a length limit (total), both with <bos>, so kept < total says the text is cut.
func (e *Encoder) Count(text string, maxLen int) (kept, total int, err error) {
	bos, ok := e.Tok.ID("<bos>")
	if !ok {
		return 0, 0, fmt.Errorf("text encoder: tokenizer has no <bos>")
	}
	body, _, err := e.Tok.Encode(text, 0)
	if err != nil {
		return 0, 0, err
	}
	row := append([]int{bos}, body...)
	if !e.PromptOnly {
		return min(len(row), maxLen), len(row), nil
	}
	// The LM reads at most its own MaxLen tokens; the kept ones follow <Prompt Start> within them.
	read := row[:min(len(row), e.Cfg.MaxLen)]
	kept = 1 + min(len(read)-e.promptStart(read), maxLen-1)
	return kept, 1 + len(row) - e.promptStart(row), nil
}

// features runs the LM on tokenised texts: [B, L, Dim] flattened, L the longest length.
func (e *Encoder) features(ids [][]int, lens []int) (feats []float64, L int, err error) {
	for _, n := range lens {
		L = max(L, n)
	}
	if e.Run != nil {
		// A device compiles a program per graph shape: lengths rounded up to a multiple of runBucket keep
		// the shapes few. Padding changes no real token's features (the LM is causal, padding keys hidden).
		L = min((L+runBucket-1)/runBucket*runBucket, e.Cfg.MaxLen)
	}
	fg, err := e.graph(len(ids), L)
	if err != nil {
		return nil, 0, err
	}
	if err := fg.lm.SetTokens(ids, lens); err != nil {
		return nil, 0, err
	}
	if feats, err = e.run(fg); err != nil { // [B, L, D]
		return nil, 0, fmt.Errorf("text encoder: %w", err)
	}
	// Padding rows carry whatever the LM computed there; zero them so features depend only on the text.
	for b, n := range lens {
		for i := n; i < L; i++ {
			row := feats[(b*L+i)*e.Cfg.Dim : (b*L+i+1)*e.Cfg.Dim]
			for j := range row {
				row[j] = 0
			}
		}
	}
	return feats, L, nil
}

func (e *Encoder) graph(b, l int) (*featureGraph, error) {
	if fg, ok := e.graphs[[2]int{b, l}]; ok {
		return fg, nil
	}
	g := G.NewGraph()
	lm, err := NewFeatureLM(g, e.Cfg, e.W, e.Dtype, b, l)
	if err != nil {
		return nil, err
	}
	fg := &featureGraph{lm: lm}
	e.graphs[[2]int{b, l}] = fg
	return fg, nil
}

// run computes fg's features with Run, or on the host.
func (e *Encoder) run(fg *featureGraph) ([]float64, error) {
	if e.Run != nil {
		return e.Run(fg.lm)
	}
	if fg.mach == nil {
		m, err := exec.NewMachineIn(&e.arena, fg.lm.Features)
		if err != nil {
			return nil, err
		}
		fg.mach = m
	}
	if err := fg.mach.Run(); err != nil {
		return nil, err
	}
	return fg.mach.Float64s(fg.lm.Features)
}

// Close releases every cached graph.
func (e *Encoder) Close() {
	clear(e.graphs)
	e.arena = exec.Arena{}
}
