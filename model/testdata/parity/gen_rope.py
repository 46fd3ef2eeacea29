"""Writes rope.safetensors: the exact float32 RoPE tables ref_nextdit.py used for io.safetensors.

The reference computes its rotary angles in float32 (rope_freqs), so its float64 output carries float32
rounding of cos/sin; the Go parity test feeds these very tables to match it to 1e-9. Regenerate with
gen.sh (needs /usr/bin/python3 with torch)."""
import sys, torch
sys.path.insert(0, sys.argv[1])
import ref_nextdit as r
io = {}
import json, struct
def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]; h = json.loads(f.read(n)); data = f.read()
    out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        a, b = v['data_offsets']
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float64).reshape(v['shape'])
    return out
cfg = json.load(open('config.json'))
io = load('io.safetensors')
B = io['x'].shape[0]; Lc = cfg['cap']; p = cfg['patch']; h = w = cfg['res'] // p
axes = [int(a) for a in cfg['axes'].split(',')]
mask = io['cap_mask'] > 0.5
cap_pos = torch.stack([torch.arange(Lc), torch.zeros(Lc, dtype=torch.long), torch.zeros(Lc, dtype=torch.long)], -1)[None].expand(B, -1, -1)
hh, ww = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
cap_len = mask.long().sum(1)
img_pos = torch.stack([cap_len[:, None].expand(B, h * w), hh.flatten()[None].expand(B, -1), ww.flatten()[None].expand(B, -1)], -1)
cc, cs = r.rope_freqs(cap_pos, axes); ic, isn = r.rope_freqs(img_pos, axes)
r.save_safetensors('rope.safetensors', {'cap_cos': cc.double(), 'cap_sin': cs.double(), 'img_cos': ic.double(), 'img_sin': isn.double()})
print('wrote rope.safetensors')
