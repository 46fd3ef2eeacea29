#!/usr/bin/env python3
"""Lumina-Image 2.0's Unified Next-DiT in plain PyTorch: the second implementation of the model.

The Go model (package model) is checked against this file: `--export DIR` writes random weights, one
float64 forward on them and the rotary tables it used (the parity fixtures of model/testdata/parity), and
with no --export it times a float32 training step and a batch-2 sampling forward for `lumina bench train`.
Parameter names are the Go checkpoint names, so weights move between the two by name. See README.md here.

  python3 tools/reference/nextdit.py                              # timing, the tiny config
  python3 tools/reference/nextdit.py --export /tmp/ref --dim 64   # fixtures

Needs torch (1.13 or later) and numpy.
"""
import argparse
import dataclasses
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROPE_THETA = 10000.0
TIME_PERIOD = 10000.0
FINAL_LN_EPS = 1e-6


# ----------------------------------------------------------------------------------------------------
# Architecture


@dataclasses.dataclass(frozen=True)
class Arch:
    """The architecture; the field names are the Go config's JSON names. The defaults are `tiny`."""

    dim: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    axes_dims: tuple = (8, 12, 12)
    multiple_of: int = 256
    refiners: int = 1
    patch: int = 4
    channels: int = 3
    cap_dim: int = 128
    freq_dim: int = 256
    adaln_max: int = 1024
    norm_eps: float = 1e-5
    # "joint": caption and image tokens in one sequence through the main layers (the Unified Next-DiT);
    # "cross": the main layers see the image tokens only and read the caption by cross-attention.
    text_injection: str = "joint"

    @property
    def cross(self):
        return self.text_injection == "cross"

    @property
    def head_dim(self):
        return self.dim // self.heads

    @property
    def cond_dim(self):
        """Width of the timestep conditioning c, the only input of every adaLN."""
        return min(self.dim, self.adaln_max)

    @property
    def ffn_hidden(self):
        """SwiGLU hidden width: 4·dim rounded up to multiple_of."""
        return -(-4 * self.dim // self.multiple_of) * self.multiple_of

    @property
    def patch_width(self):
        return self.patch * self.patch * self.channels

    def validate(self):
        problems = []
        if self.dim % self.heads:
            problems.append(f"dim {self.dim} is not a multiple of heads {self.heads}")
        if self.heads % self.kv_heads:
            problems.append(f"heads {self.heads} is not a multiple of kv_heads {self.kv_heads}")
        if len(self.axes_dims) != 3 or any(d <= 0 or d % 2 for d in self.axes_dims):
            problems.append(f"axes_dims {self.axes_dims}: want three positive even widths")
        elif sum(self.axes_dims) != self.dim // max(self.heads, 1):
            problems.append(f"axes_dims {self.axes_dims} sum to {sum(self.axes_dims)}, head_dim is {self.head_dim}")
        if self.freq_dim % 2:
            problems.append(f"freq_dim {self.freq_dim} is odd")
        if self.text_injection not in ("joint", "cross"):
            problems.append(f"text_injection {self.text_injection!r}: want joint or cross")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_json(self):
        d = dataclasses.asdict(self)
        d["axes_dims"] = list(self.axes_dims)
        if not self.cross:
            del d["text_injection"]  # the Go config leaves the default out
        return d


# ----------------------------------------------------------------------------------------------------
# Position encodings


def time_features(t, width):
    """Sinusoid of raw t ∈ [0, 1]: [cos(t·f), sin(t·f)] with f_i = exp(-ln(10000)·i/(width/2))."""
    half = width // 2
    freqs = torch.exp(torch.arange(half, dtype=t.dtype, device=t.device) * (-math.log(TIME_PERIOD) / half))
    angle = t[:, None] * freqs[None, :]
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=1)


def token_positions(keep, grid_h, grid_w):
    """Three-axis positions of the caption and image tokens.

    keep [B, Lc] (bool) marks the real caption tokens. Caption token i sits at (i, 0, 0); the image
    token at grid cell (r, c) at (n, r, c), n the sample's real caption length.
    Returns int64 tensors cap [B, Lc, 3] and img [B, grid_h·grid_w, 3]."""
    batch, lc = keep.shape
    dev = keep.device
    cap = torch.zeros(batch, lc, 3, dtype=torch.long, device=dev)
    cap[:, :, 0] = torch.arange(lc, device=dev)
    n = keep.long().sum(dim=1)
    rows = torch.arange(grid_h, device=dev).repeat_interleave(grid_w)
    cols = torch.arange(grid_w, device=dev).repeat(grid_h)
    img = torch.empty(batch, grid_h * grid_w, 3, dtype=torch.long, device=dev)
    img[:, :, 0] = n[:, None]
    img[:, :, 1] = rows[None, :]
    img[:, :, 2] = cols[None, :]
    return cap, img


def rope_angles(pos, axes_dims):
    """Float32 rotary angles [..., head_dim/2] for positions pos [..., 3]: per axis of width d,
    position · 1/θ^(2j/d) for j < d/2, the three axes side by side."""
    parts = []
    for axis, d in enumerate(axes_dims):
        exponent = torch.arange(0, d, 2, dtype=torch.float32, device=pos.device) / d
        inv_freq = 1.0 / torch.pow(torch.tensor(ROPE_THETA, dtype=torch.float32, device=pos.device), exponent)
        parts.append(pos[..., axis].to(torch.float32)[..., None] * inv_freq)
    return torch.cat(parts, dim=-1)


def rope_tables(keep, grid_h, grid_w, axes_dims):
    """The float32 cos/sin tables the forward rotates by: cap_cos, cap_sin [B, Lc, hd/2] and
    img_cos, img_sin [B, grid_h·grid_w, hd/2]."""
    cap_pos, img_pos = token_positions(keep, grid_h, grid_w)
    cap, img = rope_angles(cap_pos, axes_dims), rope_angles(img_pos, axes_dims)
    return {"cap_cos": torch.cos(cap), "cap_sin": torch.sin(cap), "img_cos": torch.cos(img), "img_sin": torch.sin(img)}


def as_phasor(cos, sin, dtype):
    """cos + i·sin in the complex type of dtype, for the rotation as a complex product."""
    return torch.complex(cos.to(dtype), sin.to(dtype))


def rotate_pairs(x, phasor):
    """Rotates each adjacent pair (x[2j], x[2j+1]) of the last axis of x [B, L, h, d] by the angle of
    phasor[..., j] [B, L, d/2]: the pair read as the complex number x[2j] + i·x[2j+1], times the phasor."""
    z = torch.view_as_complex(x.reshape(*x.shape[:-1], x.shape[-1] // 2, 2).contiguous())
    return torch.view_as_real(z * phasor.unsqueeze(2)).flatten(-2)


# ----------------------------------------------------------------------------------------------------
# Layers


# Products without BLAS. The export's float64 forward is written byte for byte to the parity fixtures,
# and a BLAS library's summation order (reference BLAS, OpenBLAS and its per-CPU kernels differ) would
# make those bytes depend on the machine. Under EXACT every product is an elementwise multiplication
# and one sum over the last axis, which depends only on torch (pinned to its portable kernels by
# ATEN_CPU_CAPABILITY=default, see model/testdata/parity/gen.sh). Timing keeps BLAS.
EXACT = False


class Linear(nn.Linear):
    """nn.Linear, or under EXACT the same sum of products without BLAS."""

    def forward(self, x):
        if not EXACT:
            return super().forward(x)
        y = (x.unsqueeze(-2) * self.weight).sum(-1)  # [..., 1, in] · [out, in] → [..., out]
        return y if self.bias is None else y + self.bias


def attention_logits(q, k):
    """q [b, n, kv, g, d] · k [b, s, kv, d] → [b, kv, g, n, s]."""
    if not EXACT:
        return torch.einsum("bqkgd,bskd->bkgqs", q, k)
    qq = q.permute(0, 2, 3, 1, 4).unsqueeze(4)  # [b, kv, g, n, 1, d]
    kk = k.permute(0, 2, 1, 3)[:, :, None, None]  # [b, kv, 1, 1, s, d]
    return (qq * kk).sum(-1)


def attention_mix(w, v):
    """w [b, kv, g, n, s] · v [b, s, kv, d] → [b, n, kv, g, d]."""
    if not EXACT:
        return torch.einsum("bkgqs,bskd->bqkgd", w, v)
    ww = w.unsqueeze(4)  # [b, kv, g, n, 1, s]
    vv = v.permute(0, 2, 3, 1)[:, :, None, None]  # [b, kv, 1, 1, d, s]
    return (ww * vv).sum(-1).permute(0, 3, 1, 2, 4)


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) · weight over the last axis."""

    def __init__(self, width, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * torch.rsqrt(x.square().mean(dim=-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    """Grouped-query attention with QK-norm and multimodal RoPE; a key mask hides caption padding.

    The query heads are grouped by the key/value head they share (query head h reads kv head
    h // (heads/kv_heads)), so keys and values are never copied."""

    def __init__(self, a):
        super().__init__()
        self.heads, self.kv_heads, self.hd = a.heads, a.kv_heads, a.head_dim
        self.qkv = Linear(a.dim, (a.heads + 2 * a.kv_heads) * a.head_dim, bias=False)
        self.out = Linear(a.heads * a.head_dim, a.dim, bias=False)
        self.qn = RMSNorm(a.head_dim, a.norm_eps)
        self.kn = RMSNorm(a.head_dim, a.norm_eps)

    def forward(self, x, phasor, keep):
        b, n, _ = x.shape
        hq, hkv, d = self.heads, self.kv_heads, self.hd
        q, k, v = self.qkv(x).split([hq * d, hkv * d, hkv * d], dim=-1)
        q = rotate_pairs(self.qn(q.reshape(b, n, hq, d)), phasor)
        k = rotate_pairs(self.kn(k.reshape(b, n, hkv, d)), phasor)
        v = v.reshape(b, n, hkv, d)
        q = q.reshape(b, n, hkv, hq // hkv, d)  # [b, query, kv head, member of its group, d]
        logits = attention_logits(q, k) * (1.0 / math.sqrt(d))
        if keep is not None:
            # A finite floor rather than -inf: a sample without caption tokens leaves its (padded)
            # caption queries nothing to attend to, and those must stay finite.
            logits = logits.masked_fill(~keep[:, None, None, None, :], torch.finfo(logits.dtype).min)
        weights = torch.softmax(logits, dim=-1)
        mixed = attention_mix(weights, v)
        return self.out(mixed.reshape(b, n, hq * d))


class CrossAttention(nn.Module):
    """Grouped-query attention from the tokens x to another sequence ctx: queries from x, keys and values
    from ctx, QK-norm, no rotation (the two sequences share no positions). keep [B, Lc] hides ctx's
    padding; a query with no key to see gets zeros."""

    def __init__(self, a):
        super().__init__()
        self.heads, self.kv_heads, self.hd = a.heads, a.kv_heads, a.head_dim
        self.q = Linear(a.dim, a.heads * a.head_dim, bias=False)
        self.kv = Linear(a.dim, 2 * a.kv_heads * a.head_dim, bias=False)
        self.out = Linear(a.heads * a.head_dim, a.dim, bias=False)
        self.qn = RMSNorm(a.head_dim, a.norm_eps)
        self.kn = RMSNorm(a.head_dim, a.norm_eps)

    def forward(self, x, ctx, keep):
        b, n, _ = x.shape
        s = ctx.shape[1]
        hq, hkv, d = self.heads, self.kv_heads, self.hd
        q = self.qn(self.q(x).reshape(b, n, hq, d)).reshape(b, n, hkv, hq // hkv, d)
        k, v = self.kv(ctx).split([hkv * d, hkv * d], dim=-1)
        k = self.kn(k.reshape(b, s, hkv, d))
        v = v.reshape(b, s, hkv, d)
        logits = attention_logits(q, k) * (1.0 / math.sqrt(d))
        logits = logits.masked_fill(~keep[:, None, None, None, :], torch.finfo(logits.dtype).min)
        weights = torch.softmax(logits, dim=-1)
        # Softmax over nothing but masked keys would spread evenly over the padding: no key, no output.
        weights = weights * keep.any(dim=1).to(weights.dtype)[:, None, None, None, None]
        mixed = attention_mix(weights, v)
        return self.out(mixed.reshape(b, n, hq * d))


class SwiGLU(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.w1 = Linear(dim, hidden, bias=False)
        self.w3 = Linear(dim, hidden, bias=False)
        self.w2 = Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class JointBlock(nn.Module):
    """Attention then SwiGLU, each wrapped in a sandwich of RMSNorms (before and after). Modulated,
    the timestep conditioning scales each sublayer's input by (1 + scale) and gates its output by
    tanh(gate); unmodulated (the context refiner) neither. With cross (the main layers of the "cross"
    model), a third sublayer between the two, modulated and sandwiched the same way, attends from the
    tokens to the caption, which a norm of its own (xnc) normalises first."""

    def __init__(self, a, modulated, cross=False):
        super().__init__()
        self.attn = Attention(a)
        self.ffn = SwiGLU(a.dim, a.ffn_hidden)
        self.an1, self.an2 = RMSNorm(a.dim, a.norm_eps), RMSNorm(a.dim, a.norm_eps)
        self.fn1, self.fn2 = RMSNorm(a.dim, a.norm_eps), RMSNorm(a.dim, a.norm_eps)
        self.modulated, self.cross = modulated, cross
        chunks = 4
        if cross:
            self.xattn = CrossAttention(a)
            self.xn1, self.xn2 = RMSNorm(a.dim, a.norm_eps), RMSNorm(a.dim, a.norm_eps)
            self.xnc = RMSNorm(a.dim, a.norm_eps)
            chunks = 6  # scale and gate of the cross-attention after the four of the other sublayers
        if modulated:
            self.ada = nn.Sequential(nn.SiLU(), Linear(a.cond_dim, chunks * a.dim))

    def forward(self, x, phasor, keep, cond=None, text=None, text_keep=None):
        if not self.modulated:
            x = x + self.an2(self.attn(self.an1(x), phasor, keep))
            return x + self.fn2(self.ffn(self.fn1(x)))
        mods = self.ada(cond).unsqueeze(1).chunk(6 if self.cross else 4, dim=-1)
        scale_attn, gate_attn, scale_ffn, gate_ffn = mods[:4]
        x = x + torch.tanh(gate_attn) * self.an2(self.attn(self.an1(x) * (1 + scale_attn), phasor, keep))
        if self.cross:
            scale_x, gate_x = mods[4:]
            x = x + torch.tanh(gate_x) * self.xn2(self.xattn(self.xn1(x) * (1 + scale_x), self.xnc(text), text_keep))
        return x + torch.tanh(gate_ffn) * self.fn2(self.ffn(self.fn1(x) * (1 + scale_ffn)))


def patchify(img, p):
    """[B, C, H, W] → [B, (H/p)(W/p), p·p·C]: tokens row-major over the grid, each patch flattened
    in the order (row in patch, column in patch, channel)."""
    b, c, h, w = img.shape
    grid = img.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return grid.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(tokens, p, channels, grid_h, grid_w):
    """The inverse of patchify."""
    b = tokens.shape[0]
    grid = tokens.reshape(b, grid_h, grid_w, p, p, channels).permute(0, 5, 1, 3, 2, 4)
    return grid.reshape(b, channels, grid_h * p, grid_w * p)


class NextDiT(nn.Module):
    """The Unified Next-DiT. NextDiT() is the tiny config; NextDiT(dim=64, ...) or NextDiT(Arch(...))
    another. forward(x [B, C, H, W], t [B], cap [B, Lc, cap_dim], cap_mask [B, Lc]) → velocity
    [B, C, H, W]; cap_mask is bool or 0/1, real caption tokens first."""

    def __init__(self, arch=None, **fields):
        super().__init__()
        a = dataclasses.replace(arch or Arch(), **fields).validate()
        self.arch = a
        cd = a.cond_dim
        self.x_emb = Linear(a.patch_width, a.dim)
        self.t_mlp = nn.Sequential(Linear(a.freq_dim, cd), nn.SiLU(), Linear(cd, cd))
        self.cap_emb = nn.Sequential(RMSNorm(a.cap_dim, a.norm_eps), Linear(a.cap_dim, a.dim))
        self.noise_ref = nn.ModuleList([JointBlock(a, True) for _ in range(a.refiners)])
        self.ctx_ref = nn.ModuleList([JointBlock(a, False) for _ in range(a.refiners)])
        self.layers = nn.ModuleList([JointBlock(a, True, a.cross) for _ in range(a.layers)])
        self.final_ada = nn.Sequential(nn.SiLU(), Linear(cd, a.dim))
        self.final = Linear(a.dim, a.patch_width)

    def forward(self, x, t, cap, cap_mask):
        a = self.arch
        dt = x.dtype
        _, _, height, width = x.shape
        gh, gw = height // a.patch, width // a.patch
        keep = cap_mask if cap_mask.dtype == torch.bool else cap_mask > 0.5
        lc = keep.shape[1]
        tabs = rope_tables(keep, gh, gw, a.axes_dims)
        cap_rot = as_phasor(tabs["cap_cos"], tabs["cap_sin"], dt)
        img_rot = as_phasor(tabs["img_cos"], tabs["img_sin"], dt)

        cond = self.t_mlp(time_features(t.to(dt), a.freq_dim))

        text = self.cap_emb(cap)
        for blk in self.ctx_ref:
            text = blk(text, cap_rot, keep)

        image = self.x_emb(patchify(x, a.patch))
        for blk in self.noise_ref:
            image = blk(image, img_rot, None, cond)

        if a.cross:
            # The image tokens alone, rotated by their own positions; the caption enters each block
            # through its cross-attention and is not updated by the main layers.
            for blk in self.layers:
                image = blk(image, img_rot, None, cond, text, keep)
        else:
            seq = torch.cat([text, image], dim=1)
            seq_rot = torch.cat([cap_rot, img_rot], dim=1)
            seq_keep = torch.cat([keep, torch.ones(keep.shape[0], gh * gw, dtype=torch.bool, device=keep.device)], dim=1)
            for blk in self.layers:
                seq = blk(seq, seq_rot, seq_keep, cond)
            image = seq[:, lc:]

        scale = self.final_ada(cond).unsqueeze(1)
        image = self.final(F.layer_norm(image, (a.dim,), eps=FINAL_LN_EPS) * (1 + scale))
        return unpatchify(image, a.patch, a.channels, gh, gw)


# ----------------------------------------------------------------------------------------------------
# safetensors


_DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8")}


def write_safetensors(path, tensors):
    """Writes tensors (name → float32/float64 tensor, in the given order) as a safetensors file:
    an 8-byte little-endian header length, the JSON header padded with spaces to a multiple of 8,
    then the raw little-endian data, back to back."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        code, np_type = _DTYPES[t.dtype]
        blob = np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np_type).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# ----------------------------------------------------------------------------------------------------
# Export


EXPORT_WEIGHT_SEED = 20240501
EXPORT_INPUT_SEED = 7
EXPORT_T = (0.3, 0.8)


def randomize_(model, gen):
    """Fills every parameter from gen in float64: matrices N(0, 1/fan_in), biases N(0, 0.2²), norm
    weights 1 + N(0, 0.2²), so every weight, including the modulation and the norms, matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if p.dim() == 2:
                p.copy_(noise / math.sqrt(p.shape[1]))
            elif name.endswith(".bias"):
                p.copy_(0.2 * noise)
            else:
                p.copy_(1 + 0.2 * noise)


def export(a, res, cap_len, out_dir):
    global EXACT
    EXACT = True  # products without BLAS: the files depend on torch alone
    torch.set_num_threads(1)  # one summation order, so the files are the same on every run
    model = NextDiT(a).double()
    randomize_(model, torch.Generator().manual_seed(EXPORT_WEIGHT_SEED))

    gen = torch.Generator().manual_seed(EXPORT_INPUT_SEED)
    batch = len(EXPORT_T)
    x = torch.randn(batch, a.channels, res, res, generator=gen, dtype=torch.float64)
    t = torch.tensor(EXPORT_T, dtype=torch.float64)
    cap = torch.randn(batch, cap_len, a.cap_dim, generator=gen, dtype=torch.float64)
    lens = [cap_len, max(1, cap_len // 2)]  # the second caption is padded
    keep = torch.arange(cap_len)[None, :] < torch.tensor(lens)[:, None]
    with torch.no_grad():
        v = model(x, t, cap, keep)
    tabs = rope_tables(keep, res // a.patch, res // a.patch, a.axes_dims)

    os.makedirs(out_dir, exist_ok=True)
    params = dict(model.named_parameters())
    write_safetensors(os.path.join(out_dir, "weights.safetensors"), {k: p.float() for k, p in params.items()})
    write_safetensors(os.path.join(out_dir, "weights64.safetensors"), {k: p.double() for k, p in params.items()})
    write_safetensors(os.path.join(out_dir, "io.safetensors"),
                      {"x": x, "t": t, "cap": cap, "cap_mask": keep.double(), "v": v})
    write_safetensors(os.path.join(out_dir, "rope.safetensors"), {k: tabs[k].double() for k in
                                                                 ("cap_cos", "cap_sin", "img_cos", "img_sin")})
    desc = {"arch": a.to_json(), "res": res, "cap": cap_len, "cap_lens": lens, "t": list(EXPORT_T),
            "weight_seed": EXPORT_WEIGHT_SEED, "input_seed": EXPORT_INPUT_SEED,
            "params": sum(p.numel() for p in params.values())}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(desc, f, indent=1)
        f.write("\n")
    print(f"exported to {out_dir}: {desc['params']} params, v rms {v.square().mean().sqrt().item():.4f}")


# ----------------------------------------------------------------------------------------------------
# Timing


def time_it(fn, warmup, runs, sync):
    for _ in range(warmup):
        fn()
    sync()
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    sync()
    return (time.perf_counter() - start) / runs


def timing(a, args):
    torch.manual_seed(0)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    model = NextDiT(a).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    def inputs(batch):
        keep = torch.arange(args.cap, device=dev)[None, :].expand(batch, -1) < args.cap_real
        return (torch.randn(batch, a.channels, args.res, args.res, device=dev),
                torch.randn(batch, args.cap, a.cap_dim, device=dev), keep)

    data, cap, keep = inputs(args.batch)
    noise = torch.randn_like(data)
    t = torch.rand(args.batch, device=dev)
    tt = t[:, None, None, None]

    def train_step():
        pred = model(tt * data + (1 - tt) * noise, t, cap, keep)
        loss = F.mse_loss(pred, data - noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    x2, cap2, keep2 = inputs(2)
    t2 = torch.rand(2, device=dev)

    def sample_forward():
        with torch.no_grad():
            model(x2, t2, cap2, keep2)

    step_s = time_it(train_step, 3, args.steps, sync)
    fwd_s = time_it(sample_forward, 3, 3 * args.steps, sync)
    n = sum(p.numel() for p in model.parameters())
    print(f"device={dev.type} params={n} dim={a.dim} layers={a.layers} train_step_ms={step_s * 1000:.1f} "
          f"sample_fwd_b2_ms={fwd_s * 1000:.2f} threads={args.threads} batch={args.batch} res={args.res} "
          f"patch={a.patch} cap={args.cap}")


# ----------------------------------------------------------------------------------------------------


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    d = Arch()
    ap.add_argument("--dim", type=int, default=d.dim)
    ap.add_argument("--layers", type=int, default=d.layers)
    ap.add_argument("--heads", type=int, default=d.heads)
    ap.add_argument("--kv", type=int, default=d.kv_heads, help="key/value heads")
    ap.add_argument("--refiners", type=int, default=d.refiners, help="noise refiners, and as many context refiners")
    ap.add_argument("--axes", default=",".join(map(str, d.axes_dims)), help="RoPE split of head_dim")
    ap.add_argument("--multiple-of", type=int, default=d.multiple_of, dest="multiple_of")
    ap.add_argument("--patch", type=int, default=d.patch)
    ap.add_argument("--channels", type=int, default=d.channels)
    ap.add_argument("--cap-dim", type=int, default=0, dest="cap_dim", help="caption feature width (default: --dim)")
    ap.add_argument("--text-injection", default=d.text_injection, dest="text_injection", choices=("joint", "cross"),
                    help="joint: one caption+image sequence; cross: image tokens with cross-attention to the caption")
    ap.add_argument("--res", type=int, default=32, help="image side in pixels")
    ap.add_argument("--cap", type=int, default=48, help="caption tokens, padding included")
    ap.add_argument("--cap-real", type=int, default=0, dest="cap_real",
                    help="timing: real caption tokens (default: 3/4 of --cap)")
    ap.add_argument("--batch", type=int, default=16, help="timing: training batch")
    ap.add_argument("--steps", type=int, default=10, help="timing: timed training steps (3× as many forwards)")
    ap.add_argument("--threads", type=int, default=1, help="timing: torch threads")
    ap.add_argument("--device", default="cpu", help="timing: torch device")
    ap.add_argument("--export", default="", metavar="DIR", help="write the fixtures to DIR instead of timing")
    args = ap.parse_args(argv)
    if args.res % args.patch:
        ap.error(f"--res {args.res} is not a multiple of --patch {args.patch}")
    if args.cap < 1 or args.batch < 1 or args.steps < 1 or args.threads < 1:
        ap.error("--cap, --batch, --steps and --threads must be ≥ 1")
    if args.cap_real <= 0:
        args.cap_real = max(1, args.cap * 3 // 4)
    try:
        arch = Arch(dim=args.dim, layers=args.layers, heads=args.heads, kv_heads=args.kv,
                    axes_dims=tuple(int(s) for s in args.axes.split(",")), multiple_of=args.multiple_of,
                    refiners=args.refiners, patch=args.patch, channels=args.channels,
                    cap_dim=args.cap_dim or args.dim, text_injection=args.text_injection).validate()
    except ValueError as e:
        ap.error(str(e))
    return arch, args


def main(argv=None):
    arch, args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.export:
        export(arch, args.res, args.cap, args.export)
    else:
        torch.set_num_threads(args.threads)
        timing(arch, args)


if __name__ == "__main__":
    main()
