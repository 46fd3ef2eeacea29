package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/exec"
	"github.com/lumina-workbench/lumina/model/flow"
	gu "github.com/lumina-workbench/lumina/model/graphutil"
	"github.com/lumina-workbench/lumina/model/ops"
)

// FlowLoss is a training graph for one batch shape: flow.Loss averaged over the batch,
// mean((v − (x1 − x0))²), on inputs that flow.Interpolate prepares and, optionally, the auxiliary loss
// of a second, independent forward on flow.AvgPool of the image (its own noise and t, the same caption
// features), summed with equal weights. Gradients reach every parameter.
// The graph is built once per shape and fed each step; its parameters are bound to shared Weights.
type FlowLoss struct {
	Graph  *G.ExprGraph
	Model  *NextDiT
	Main   *Inputs
	Target *G.Node // [B, C, H, W] = x1 − x0
	// Aux and AuxTarget are nil when the aux loss is off.
	Aux       *Inputs
	AuxTarget *G.Node // [B, C, H/4, W/4]
	Loss      *G.Node // scalar: main + aux
	MainLoss  *G.Node // scalar
	AuxLoss   *G.Node // scalar, nil without aux
	// GradNodes are dLoss/dParam, in Model.Params order: what an executor other than the graph's own
	// machine computes.
	GradNodes G.Nodes
	// Arena, when set before the first RunSet, is where the graph runs on the CPU, shared with graphs
	// that never run at the same time (exec.Arena); nil gives the graph memory of its own.
	Arena *exec.Arena
	mach  *exec.Machine // made on the first RunSet
}

// NewFlowLoss builds the loss graph for shape s. With aux, s's sides must be multiples of 4·patch.
func NewFlowLoss(w *Weights, s Shape, aux bool) (fl *FlowLoss, err error) {
	defer gu.Catch(&err)
	g := G.NewGraph()
	m, err := NewNextDiT(g, w)
	if err != nil {
		return nil, err
	}
	cfg := w.Cfg
	fl = &FlowLoss{Graph: g, Model: m}
	if fl.Main, err = NewInputs(g, w.Dtype, cfg, s, ""); err != nil {
		return nil, err
	}
	v, err := m.Forward(fl.Main) // [B, C, H, W]
	if err != nil {
		return nil, err
	}
	fl.Target = gu.Input(g, w.Dtype, "target", s.Batch, cfg.Channels, s.Height, s.Width)
	fl.MainLoss = gu.Must(ops.MSE(v, fl.Target)) // scalar
	fl.Loss = fl.MainLoss
	if aux {
		as := Shape{Batch: s.Batch, Height: s.Height / flow.AuxPool, Width: s.Width / flow.AuxPool, CapLen: s.CapLen}
		if s.Height%(flow.AuxPool*cfg.Patch) != 0 || s.Width%(flow.AuxPool*cfg.Patch) != 0 {
			return nil, fmt.Errorf("aux loss needs image sides that are multiples of %d (pool %d × patch %d), got %d×%d",
				flow.AuxPool*cfg.Patch, flow.AuxPool, cfg.Patch, s.Width, s.Height)
		}
		if fl.Aux, err = NewInputs(g, w.Dtype, cfg, as, "aux."); err != nil {
			return nil, err
		}
		va, err := m.Forward(fl.Aux) // [B, C, H/4, W/4]
		if err != nil {
			return nil, err
		}
		fl.AuxTarget = gu.Input(g, w.Dtype, "aux.target", as.Batch, cfg.Channels, as.Height, as.Width)
		fl.AuxLoss = gu.Must(ops.MSE(va, fl.AuxTarget))   // scalar
		fl.Loss = gu.Must(G.Add(fl.MainLoss, fl.AuxLoss)) // scalar
	}
	if fl.GradNodes, err = G.Grad(fl.Loss, m.Params...); err != nil {
		return nil, fmt.Errorf("loss gradients: %w", err)
	}
	return fl, nil
}

// LossValues are one step's losses.
type LossValues struct{ Total, Main, Aux float64 }

// Step runs forward and backward on one batch: x_t with its t and caption features, and the velocity
// target. aux and auxTarget are required exactly when the graph has the aux loss. Gradients are
// written (not accumulated) into the parameter gradients; read them with Grads.
func (fl *FlowLoss) Step(main Batch, target []float64, aux *Batch, auxTarget []float64) (LossValues, error) {
	if err := fl.Set(main, target, aux, auxTarget); err != nil {
		return LossValues{}, err
	}
	return fl.RunSet()
}

// Set places one batch in the graph's inputs without running it (an executor other than the graph's
// own machine runs it next).
func (fl *FlowLoss) Set(main Batch, target []float64, aux *Batch, auxTarget []float64) error {
	cfg := fl.Model.Cfg
	if (aux != nil) != (fl.Aux != nil) {
		return fmt.Errorf("flow loss: aux batch given = %v, graph has aux loss = %v", aux != nil, fl.Aux != nil)
	}
	if err := fl.Main.Set(cfg, main); err != nil {
		return fmt.Errorf("flow loss inputs: %w", err)
	}
	if err := gu.Fill(fl.Target, target); err != nil {
		return fmt.Errorf("flow loss target: %w", err)
	}
	if aux != nil {
		if err := fl.Aux.Set(cfg, *aux); err != nil {
			return fmt.Errorf("aux loss inputs: %w", err)
		}
		if err := gu.Fill(fl.AuxTarget, auxTarget); err != nil {
			return fmt.Errorf("aux loss target: %w", err)
		}
	}
	return nil
}

// Outputs are what a step computes: the losses (total, main, then aux when on) and the gradients.
func (fl *FlowLoss) Outputs() G.Nodes {
	outs := G.Nodes{fl.Loss, fl.MainLoss}
	if fl.AuxLoss != nil {
		outs = append(outs, fl.AuxLoss)
	}
	return append(outs, fl.GradNodes...)
}

// Program is the compiled program a CPU step runs, for its memory (exec.Program.HostBytes) without
// running it.
func (fl *FlowLoss) Program() (*exec.Program, error) { return exec.Compile(fl.Outputs(), nil) }

// RunSet runs forward and backward on inputs already placed in the graph (by Step, or by hand in tests).
func (fl *FlowLoss) RunSet() (LossValues, error) {
	if fl.mach == nil { // made on first use: a graph run by another executor never needs it
		m, err := exec.NewMachineIn(fl.Arena, fl.Outputs()...)
		if err != nil {
			return LossValues{}, fmt.Errorf("flow loss: %w", err)
		}
		fl.mach = m
	}
	if err := fl.mach.Run(); err != nil {
		return LossValues{}, fmt.Errorf("flow loss step: %w", err)
	}
	var lv LossValues
	var err error
	if lv.Total, err = fl.mach.Scalar(fl.Loss); err != nil {
		return lv, err
	}
	if lv.Main, err = fl.mach.Scalar(fl.MainLoss); err != nil {
		return lv, err
	}
	if fl.AuxLoss != nil {
		lv.Aux, err = fl.mach.Scalar(fl.AuxLoss)
	}
	return lv, err
}

// Grads are the parameter gradients of the last Step, in ParamShapes order: views of the machine's
// memory, valid (and changeable in place, as clipping does) until the next Step.
func (fl *FlowLoss) Grads() []*tensor.Dense {
	if fl.mach == nil {
		return nil // no step has run yet
	}
	out := make([]*tensor.Dense, len(fl.GradNodes))
	for i, g := range fl.GradNodes {
		d, err := fl.mach.Tensor(g)
		if err != nil {
			return nil
		}
		out[i] = d
	}
	return out
}

// Close releases the graph's machine.
func (fl *FlowLoss) Close() error {
	fl.mach = nil
	return nil
}
