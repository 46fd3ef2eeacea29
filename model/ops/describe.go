package ops

import G "gorgonia.org/gorgonia"

// Role is what a fused op's node does in a graph.
type Role int

const (
	// Forward computes the op's output from its inputs.
	Forward Role = iota
	// Backward computes the gradients of the inputs listed in Desc.Packed, concatenated flat in that
	// order; its inputs are the forward inputs, then the forward output when Desc.NeedsOut, then the
	// output gradient.
	Backward
	// Extract is one input's gradient: a view of Desc.Size elements at Desc.Offset of a Backward's output.
	Extract
)

// Params are the settings of a fused op that change its result; each op uses the fields its name shows.
type Params struct {
	Eps  float64  // RMSNorm, LayerNorm
	Bias bool     // Linear: with a bias input (Linear) or without (LinearNoBias)
	P    int      // Patchify, Unpatchify: patch side
	C    int      // Unpatchify: channels
	H, W int      // Unpatchify: image height and width
	K    int      // AvgPool: window side
	Attn AttnOpts // Attention, CrossAttention
	// Masked says an attention op has a key-mask input.
	Masked bool
}

// Desc describes a node's fused op for an executor that runs graphs itself (model/exec): which op, in
// which role, with which settings. Kernel is the op's name without settings ("RMSNorm", "Linear",
// "Attention").
type Desc struct {
	Role     Role
	Kernel   string
	Params   Params
	Arity    int   // the forward op's number of inputs
	Packed   []int // Backward: the inputs whose gradients it writes, in order
	NeedsOut bool  // Backward: whether the forward output is an input
	Offset   int   // Extract: where the view starts in the packed buffer
}

// Describe says which fused op of this package op is; ok is false for any other op.
func Describe(op G.Op) (d Desc, ok bool) {
	switch o := op.(type) {
	case *fwdOp:
		d = describeKernel(o.k)
		d.Role = Forward
	case *bwdOp:
		d = describeKernel(o.k)
		d.Role = Backward
		d.Packed = append([]int(nil), o.packed...)
		d.NeedsOut = o.k.needsOut()
	case *extractOp:
		d = Desc{Role: Extract, Kernel: o.name, Offset: o.off}
	default:
		return Desc{}, false
	}
	return d, true
}

func describeKernel(k kernel) Desc {
	d := Desc{Arity: k.arity()}
	switch k := k.(type) {
	case siluK:
		d.Kernel = "SiLU"
	case swigluK:
		d.Kernel = "SwiGLU"
	case modulateK:
		d.Kernel = "Modulate"
	case gatedK:
		d.Kernel = "GatedResidual"
	case addK:
		d.Kernel = "Add"
	case linearK:
		d.Kernel, d.Params.Bias = "Linear", k.bias
	case mseK:
		d.Kernel = "MSE"
	case embedK:
		d.Kernel = "Embedding"
	case ceK:
		d.Kernel = "CrossEntropy"
	case rmsK:
		d.Kernel, d.Params.Eps = "RMSNorm", k.eps
	case layerK:
		d.Kernel, d.Params.Eps = "LayerNorm", k.eps
	case patchK:
		d.Kernel, d.Params.P = "Patchify", k.p
	case unpatchK:
		d.Kernel, d.Params = "Unpatchify", Params{P: k.p, C: k.c, H: k.h, W: k.w}
	case avgPoolK:
		d.Kernel, d.Params.K = "AvgPool", k.k
	case *attnK:
		d.Kernel, d.Params.Attn, d.Params.Masked = "Attention", k.o, k.masked
	case *xattnK:
		d.Kernel, d.Params.Attn, d.Params.Masked = "CrossAttention", k.o, k.masked
	default:
		d.Kernel = k.name()
	}
	return d
}
