"""The calibration's plain PyTorch run, replayed on this project's world and scored by ToyEval.

The calibration's recipe: the PyTorch reference Next-DiT (tools/reference/nextdit.py, tiny), a word-level
caption embedding with one causal transformer layer trained jointly, 32 px, batch 32, t = sigmoid(N(0,1)),
AdamW (0.9, 0.95) lr 1e-3, clip 2, caption dropout 0.1, EMA 0.995, 1900 steps; sampling Euler 30, shift 3,
CFG 4, renorm 1.
What differs from the calibration: the data (20,000 exported scenes) and the judge (ToyEval, which asks
for the right shape in every category). Needs python3-torch and python3-pil; run from the repo root:

  ./bin/lumina data export --n 20000 --res 32 --granularity short --out /tmp/cal/data
  ./bin/lumina eval --suite all --outdir /tmp/cal/prompts      # any checkpoint: only the sidecars are used
  /usr/bin/python3 docs/experiments/recipe/calibration_replica.py --caps short,brief --out /tmp/cal/out
  ./bin/lumina eval --images /tmp/cal/out

--caps picks the caption granularities drawn per sample (metadata.jsonl's captions; "text" is --granularity's).
"""
import argparse, json, math, os, re, sys, time, glob, copy
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'tools', 'reference'))
from nextdit import NextDiT

ap = argparse.ArgumentParser()
ap.add_argument('--data', default='/tmp/cal/data')
ap.add_argument('--steps', type=int, default=1900)
ap.add_argument('--lr', type=float, default=1e-3)
ap.add_argument('--ema', type=float, default=0.995)
ap.add_argument('--init', default='torch')  # torch | zero (adaLN + final zero, xavier)
ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--out', default='/tmp/cal/out')
ap.add_argument('--prompts', default='/tmp/cal/prompts')
ap.add_argument('--maxtok', type=int, default=16)
ap.add_argument('--tdist', default='logit')
ap.add_argument('--raw', type=int, default=0)
ap.add_argument('--caps', default='text')
a = ap.parse_args()
torch.manual_seed(0); torch.set_num_threads(a.threads)

meta = [json.loads(l) for l in open(os.path.join(a.data, 'metadata.jsonl'))]
def words(s): return re.findall(r"[a-z]+", s.lower())
prompts = []
for f in sorted(glob.glob(os.path.join(a.prompts, '*.json'))):
    d = json.load(open(f)); prompts.append((os.path.basename(f)[:-5], d['id'], d['prompt']))
vocab = {'<pad>': 0, '<bos>': 1, '<unk>': 2}
kinds = a.caps.split(',')
def captext(m, k): return m['text'] if k == 'text' else m['captions'][k]['en']
for m in meta:
    for k in kinds:
        for w in words(captext(m, k)): vocab.setdefault(w, len(vocab))
unseen = set(w for _, _, p in prompts for w in words(p) if w not in vocab)
print('vocab', len(vocab), 'unseen eval words', sorted(unseen))
def tok(s):
    ids = [1] + [vocab.get(w, 2) for w in words(s)]
    return ids[:a.maxtok]

imgs = np.stack([np.asarray(Image.open(os.path.join(a.data, m['file_name'])).convert('RGB')) for m in meta])
X = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
caps = [[tok(captext(m, k)) for k in kinds] for m in meta]
print('data', X.shape)

class TextEnc(nn.Module):
    def __init__(s, V, d=128, L=16):
        super().__init__(); s.emb = nn.Embedding(V, d); s.pos = nn.Parameter(torch.zeros(L, d))
        s.layer = nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.0, batch_first=True, norm_first=True)
    def forward(s, ids, mask):
        L = ids.shape[1]
        causal = torch.triu(torch.ones(L, L, dtype=torch.bool), 1)
        return s.layer(s.emb(ids) + s.pos[:L], src_mask=causal, src_key_padding_mask=~mask)

dit = NextDiT(); te = TextEnc(len(vocab), L=a.maxtok)
if a.init == 'zero':
    for n, p in dit.named_parameters():
        if p.dim() == 2: nn.init.xavier_uniform_(p)
        elif n.endswith('bias'): nn.init.zeros_(p)
        if 'ada' in n or n.startswith('final.'): nn.init.zeros_(p)
        if n.startswith('t_mlp') and p.dim() == 2: nn.init.normal_(p, std=0.02)
params = list(dit.parameters()) + list(te.parameters())
opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
ema_dit, ema_te = copy.deepcopy(dit), copy.deepcopy(te)

def batch_caps(lists):
    L = max(len(c) for c in lists)
    ids = torch.zeros(len(lists), L, dtype=torch.long); mask = torch.zeros(len(lists), L, dtype=torch.bool)
    for i, c in enumerate(lists): ids[i, :len(c)] = torch.tensor(c); mask[i, :len(c)] = True
    return ids, mask

g = torch.Generator().manual_seed(1)
t0 = time.time(); B = 32
for step in range(1, a.steps + 1):
    idx = torch.randint(0, len(meta), (B,), generator=g)
    x1 = X[idx]
    cl = [caps[i][torch.randint(0, len(kinds), (1,), generator=g).item()] if torch.rand(1, generator=g).item() >= 0.1 else [1] for i in idx.tolist()]
    ids, mask = batch_caps(cl)
    if a.tdist == 'logit': t = torch.sigmoid(torch.randn(B, generator=g))
    else: t = torch.rand(B, generator=g)
    x0 = torch.randn(x1.shape, generator=g)
    xt = t[:, None, None, None] * x1 + (1 - t[:, None, None, None]) * x0
    loss = F.mse_loss(dit(xt, t, te(ids, mask), mask), x1 - x0)
    opt.zero_grad(set_to_none=True); loss.backward()
    gn = torch.nn.utils.clip_grad_norm_(params, 2.0)
    opt.step()
    with torch.no_grad():
        for e, p in zip(list(ema_dit.parameters()) + list(ema_te.parameters()), params): e.mul_(a.ema).add_(p, alpha=1 - a.ema)
    if step % 100 == 0: print(f'step {step} loss {loss.item():.4f} gn {gn:.3f} {time.time()-t0:.0f}s', flush=True)
print('train', time.time() - t0)

def shift(t, s): return t / (t + s - s * t)
D, T = (dit, te) if a.raw else (ema_dit, ema_te)
os.makedirs(a.out, exist_ok=True)
with torch.no_grad():
    for name, pid, p in prompts:
        seed = json.load(open(os.path.join(a.prompts, name + '.json')))['seed']
        gg = torch.Generator().manual_seed(seed)
        x = torch.randn(1, 3, 32, 32, generator=gg)
        ids, mask = batch_caps([tok(p), [1]])
        cf = T(ids, mask)
        grid = [shift(i / 29, 3.0) for i in range(30)]
        for i in range(29):
            tt = torch.full((2,), grid[i])
            v = D(torch.cat([x, x]), tt, cf, mask)
            vc, vu = v[:1], v[1:]
            vg = vu + 4 * (vc - vu)
            m = vc.norm() * 1.0; n = vg.norm()
            if n > m: vg = vg * (m / n)
            x = x + (grid[i + 1] - grid[i]) * vg
        im = ((x[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
        Image.fromarray(im).save(os.path.join(a.out, name + '.png'))
        json.dump({'id': pid}, open(os.path.join(a.out, name + '.json'), 'w'))
print('done')
