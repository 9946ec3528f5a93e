#!/usr/bin/env python3
"""models/train/train.py — trains the tiny LLaVA-1.5-shaped demo model on our
procedural suites, in stages, and exports raw weights + a spec that
`llava-eval model pack` turns into GGUF (text model + mmproj, the real layouts).

Model (LLaVA-1.5 shape, scaled down):
  CLIP-style ViT: patch 14 at 112 px (8x8 = 64 image tokens; --img 168 gives 12x12 and
  --img 224 16x16 (the committed model), a checkpoint of another size having its positions
  resized; --img 336 --patch 28 keeps 12x12 on the suites' whole 336-px canvas, the kernel
  spread by fit_patch), class token, learned
  positions, pre-LN, pre-norm blocks with quick-GELU, no post-LN; the projector
  (mlp2x_gelu: Linear, exact GELU, Linear) reads the output of the LAST stored block
  and drops the class row: this is what our engine's default `--preprocess llava`
  mode runs (all clip.vision.block_count blocks; llava-gguf.md §7.2).
  LLaMA: RMSNorm, HF rotate-half RoPE (rows of Q/K permuted at export for GGUF's
  adjacent-pair RoPE, llava-gguf.md §1.4), SiLU-gated FFN, the real 32000-token
  vocabulary, output tied to token_embd. Prompts are the llava-1.5 template
  (engine/prompt.c) tokenized by `llava-eval tokenize` (prep.py).

Stages (the LLaVA recipe, adapted to a decoder trained from scratch; each can run as
its own process, handing over model.pt, see train.sh):
  0 the decoder alone on *symbolic* image rows (a learned vector per dense label:
    colour/shape combo, ink, letter, summed over what each image token covers, with
    label noise), starting from a seeded comparator (seed_circuit) that takes the
    yes/no task off its plateau;
  1 ground the vision encoder: per-token dense labels (combos, ink, letters from the
    generator's boxes) and classification heads (presence, word, counts); with
    --dense, most of each batch comes from crowded scenes (dense_main.c: 6-16 objects
    per image, so most image tokens show one) and --factor adds a per-token softmax
    over the shape and over the colour of the one object a token shows (or none):
    the binary losses alone taught colour and never shape;
  2 align the projector (encoder and decoder frozen): regress its output onto the
    clean symbolic rows stage 0 taught the decoder to read;
  3 projector + decoder on the instruction probes with the encoder's real features;
  4 everything end to end on the probes, with the grounding losses kept on.
Reading (--read, stages 1 and 4): per token of a text image's ink, a softmax over the
word and one over the letter under it; --copy (stages 3 and 4): those rows, read through
the decoder's output, name the answer's first token. --init also takes the packed
TEXT-F16.gguf,MMPROJ.gguf, so a run can continue from the committed files.
Loss only at answer positions (the answer tokens and EOS).

Data: `llava-eval suite make` (or the carried generator with the same code) with
seeds 1000+ (training) and 42 (evaluation, never used in training).

usage (CPU smoke test):  train.py --gen ./llava-eval --tokens tokens.json --out OUT --tiny

The first model (not committed: it stays at chance on new seeds; stages numbered as they
were then: 1 grounding, 2 projector + decoder, 3 everything) came from one H100 run (a copy of the
generator binary `gen` = suite_make() linked alone, carried with libcjson and the font):
  train.py --gen gen --tokens tokens.json --out OUT --jobs 16 --train-images 64000 \
      --eval-n 400 --bs1 512 --bs 256 --steps1 20000 --steps2 20000 --steps3 20000 \
      --cap1 120 --cap2 75 --cap3 125
(the caps cut the schedules to 4651 / 2433 / 2754 steps; pass those as --steps with
large caps to rerun the same schedule on other hardware).

What that run taught (train.log): the grounding heads and the decoder fit the
64,000 training images (PyTorch, training images: 71 % object probes, 83 % words)
but did not generalize to a new seed (53 %, 2 %): stage 1 saw each image ~37 times
and the ViT memorized per-image backgrounds. The next run should stream fresh
suites (the generator makes ~1,000 images/s on 16 cores, so generate in background
processes while training, one pass over each image) rather than loop over a fixed set,
and/or use --augment (fresh pixel noise + a small shift per view; untested at scale).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
KINDS = ["object-size", "text-size", "count", "position"]
SHAPES = ["circle", "square", "triangle", "diamond", "star", "cross"]
PLURALS = ["circles", "squares", "triangles", "diamonds", "stars", "crosses"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]


def cfg_default(tiny):
    c = dict(img=112, patch=14, v_dim=128, v_heads=4, v_ff=512, v_layers=4,
             t_dim=96, t_heads=4, t_ff=256, t_layers=4, vocab=32000, ctx=512,
             rope_base=10000.0, eps=1e-5)
    return c


def fit_ctx(c):
    """Room for the image rows and the longest prompt and answer (about 100 tokens): 512
    as before up to 384 image tokens, else the next multiple of 512 (1024 for LLaVA-1.5's
    24 x 24 grid)."""
    need = (c["img"] // c["patch"]) ** 2 + 128
    c["ctx"] = 512 if need <= 512 else -(-need // 512) * 512
    return c


# ----------------------------------------------------------------------------- data

def run_gen(gen, kind, d, n, seed):
    if os.path.exists(os.path.join(d, "samples.jsonl")):
        return d
    if os.path.basename(gen).startswith("llava-eval"):
        cmd = [gen, "suite", "make", kind, "-o", d, "--n", str(n), "--seed", str(seed)]
    else:
        cmd = [gen, kind, d, str(n), str(seed)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return d


def combo_of(name):
    c, s = name.split()
    return SHAPES.index(s) * 6 + COLOURS.index(c)


SRC = 336   # the generator's canvas
N_DENSE = 37 + 26   # dense channels: 36 combos, ink, 26 letters (case folded)
_FONT = None


def letter_boxes(word, box):
    """(channel, box) per letter of a rendered word: the word's ink box split at the
    font's advance widths (DejaVu Sans, as the generator draws), so each image token
    can be taught which letters it shows."""
    global _FONT
    if _FONT is None:
        from PIL import ImageFont
        _FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 100)
    x0, y0, x1, y1 = box
    total = _FONT.getlength(word) or 1.0
    out = []
    for i, ch in enumerate(word):
        if not ch.isalpha():
            continue
        a = x0 + (x1 - x0) * _FONT.getlength(word[:i]) / total
        b = x0 + (x1 - x0) * _FONT.getlength(word[: i + 1]) / total
        out.append((37 + ord(ch.lower()) - ord("a"), (a, y0, b, y1)))
    return out


def patch_cover(b, g, src):
    """[g*g] 0/1: the patches of a g x g grid over a src-px canvas that a box covers
    (overlap >= 20 % of the smaller of box and patch)."""
    x0, y0, x1, y1 = b
    ps = src / g
    out = np.zeros(g * g, np.uint8)
    ba = max(1, (x1 - x0) * (y1 - y0))
    for r in range(int(y0 // ps), min(g, int(math.ceil(y1 / ps)))):
        for c in range(int(x0 // ps), min(g, int(math.ceil(x1 / ps)))):
            ox = min(x1, (c + 1) * ps) - max(x0, c * ps)
            oy = min(y1, (r + 1) * ps) - max(y0, r * ps)
            if ox > 0 and oy > 0 and ox * oy >= 0.2 * min(ba, ps * ps):
                out[r * g + c] = 1
    return out


def load_image(args):
    path, size, reduce_to = args
    im = Image.open(path).convert("RGB")
    if reduce_to:   # the harness's --resolutions: area filter to the longer side (never enlarged)
        w, h = im.size
        s = reduce_to / max(w, h)
        if s < 1:
            im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BOX)
    # llava mode: expand2square (already square), PIL bicubic to the native size
    im = im.resize((size, size), Image.BICUBIC)
    return np.asarray(im, dtype=np.uint8)


class Data:
    """Images (uint8, native size) and their probes."""

    def __init__(self, dirs, tokens, size, pool, reduce_to=0, patch=14):
        self.samples = []
        paths = []
        index = {}
        for kind, d in dirs:
            with open(os.path.join(d, "samples.jsonl")) as f:
                for line in f:
                    s = json.loads(line)
                    p = os.path.join(d, s["image"])
                    if p not in index:
                        index[p] = len(paths)
                        paths.append((p, kind))
                    s["kind"] = kind
                    s["img"] = index[p]
                    self.samples.append(s)
        # filled in place: at 336 px a stacked copy would double 8 GB
        images = np.empty((len(paths), size, size, 3), np.uint8)
        for i, im in enumerate(pool.imap(load_image, [(p, size, reduce_to) for p, _ in paths], chunksize=64)):
            images[i] = im
        self.images = ImageBank([images])
        self.img_kind = [k for _, k in paths]
        words = tokens["words"]
        n = len(paths)
        # grounding labels per image
        self.present = np.zeros((n, 36), np.float32)
        self.pmask = np.zeros((n, 36), np.float32)
        self.word = np.full(n, -100, np.int64)
        self.count = np.full((n, 36), -100, np.int64)
        # dense labels: which combos (0..35) or ink (36) each image token covers, from the
        # boxes the generator records; -1 = no label (kinds without usable boxes)
        g = size // patch
        self.dense = np.zeros((n, g * g, N_DENSE), np.uint8)
        self.dmask = np.zeros(n, np.float32)
        self.small = np.zeros((n, g * g), np.uint8)   # tokens a small object covers (--small-w)
        for s in self.samples:
            i, m = s["img"], s["meta"]
            if s["kind"] == "object-size":
                boxes = list(zip([combo_of(x) for x in m["present"]], m["boxes"]))
            elif s["kind"] == "text-size":
                boxes = [(36, m["boxes"][0])] + letter_boxes(m["word"], m["boxes"][0])
            else:
                continue
            self.dmask[i] = 1
            for cls, b in boxes:
                cov = patch_cover(b, g, SRC)
                self.dense[i, :, cls] |= cov
                if cls < 36 and b[2] - b[0] <= SMALL_PX:
                    self.small[i] |= cov
        for s in self.samples:
            i, m, q = s["img"], s["meta"], s["question"]
            if s["kind"] == "object-size":
                self.pmask[i] = 1
                for name in m["present"]:
                    self.present[i, combo_of(name)] = 1
            elif s["kind"] == "text-size":
                self.pmask[i] = 1   # no shapes in a text image
                self.word[i] = words.index(s["answers"][0])
            elif s["kind"] == "count":
                w = q.split()
                cb = PLURALS.index(w[3]) * 6 + COLOURS.index(w[2])
                self.present[i, cb] = 1
                self.pmask[i, cb] = 1
                self.count[i, cb] = int(s["answers"][0])
            elif s["kind"] == "position":
                w = q.rstrip("?").split()
                a = combo_of(w[2] + " " + w[3])
                b = combo_of(w[-2] + " " + w[-1])
                self.present[i, [a, b]] = 1
                self.pmask[i, [a, b]] = 1
        # instruction data
        self.user, self.ans, self.detail = [], [], []
        for s in self.samples:
            self.user.append(tokens["user"][s["question"]])
            a = s.get("label") or s["answers"][0]
            a = {"yes": "Yes", "no": "No"}.get(a, a)
            s["answer_text"] = a
            self.ans.append(tokens["answer"][a] + [tokens["eos"]])
            self.detail.append(s["meta"]["detail_px"])
        self.detail = np.array(self.detail)
        self.kind_idx = {k: np.array([j for j, s in enumerate(self.samples) if s["kind"] == k])
                         for k in KINDS}
        self.easy_idx = {}
        for k, idx in self.kind_idx.items():
            if len(idx):
                d = self.detail[idx]
                self.easy_idx[k] = idx[d >= np.median(d)]


def _dense_chunk(args):
    tool, work, n, seed, size, imgs = args   # imgs: [n, size, size, 3], filled here
    lab = os.path.join(work, f"dense-{seed}-{n}.jsonl")
    p = subprocess.Popen([tool, lab, str(n), str(seed)], stdout=subprocess.PIPE)
    fr = SRC * SRC * 3
    for i in range(n):
        buf = p.stdout.read(fr)
        assert len(buf) == fr, "dense: short frame"
        # as load_image: PIL bicubic to the native size
        imgs[i] = np.asarray(Image.frombytes("RGB", (SRC, SRC), buf).resize((size, size), Image.BICUBIC))
    if p.wait():
        raise RuntimeError(f"{tool} failed")
    with open(lab) as f:
        return [json.loads(line)["objs"] for line in f]


def image_detail(data):
    """Each image's detail size in px (object size or capital height); 0 for crowded scenes."""
    out = np.zeros(len(data.img_kind))
    for smp in data.samples:
        out[smp["img"]] = smp["meta"]["detail_px"]
    return out


class ImageBank:
    """Images kept in several arrays (the suites' in memory, the crowded scenes memory-mapped)
    and read as one: concatenating them would hold every scene in memory."""

    def __init__(self, parts):
        self.parts = list(parts)
        self.ends = np.cumsum([len(p) for p in self.parts])

    def __len__(self):
        return int(self.ends[-1])

    def take(self, idx):
        idx = np.asarray(idx)
        if len(self.parts) == 1:
            return self.parts[0][idx]
        out = np.empty((len(idx),) + self.parts[0].shape[1:], np.uint8)
        part = np.searchsorted(self.ends, idx, side="right")
        for k in np.unique(part):
            sel = part == k
            out[sel] = self.parts[k][idx[sel] - (self.ends[k] - len(self.parts[k]))]
        return out


def add_dense(data, tool, work, n, seed0, size, jobs, chunk=2000, patch=14):
    """Appends n crowded grounding scenes (dense_main.c) to data's grounding arrays
    (images, dense/present labels); they carry no probes, so only stage 1 sees them.
    Returns the index of the first one."""
    cache = os.path.join(work, f"dense-{seed0}-{n}-{size}")
    if os.path.exists(cache + ".json"):
        imgs = np.load(cache + ".npy", mmap_mode="r")
        objs = json.load(open(cache + ".json"))
    else:   # rendered straight into the file: at 168 px the scenes alone are 5 GB
        out = np.lib.format.open_memmap(cache + ".part.npy", "w+", np.uint8, (n, size, size, 3))
        todo = [(tool, work, min(chunk, n - s), seed0 + s // chunk, size, out[s: s + chunk])
                for s in range(0, n, chunk)]
        with ThreadPoolExecutor(jobs) as ex:   # the tool and PIL's resize release the GIL
            objs = [o for part in ex.map(_dense_chunk, todo) for o in part]
        out.flush()
        del out
        os.replace(cache + ".part.npy", cache + ".npy")
        with open(cache + ".json", "w") as f:
            json.dump(objs, f)
        imgs = np.load(cache + ".npy", mmap_mode="r")
    g = size // patch
    dense = np.zeros((len(imgs), g * g, N_DENSE), np.uint8)
    small = np.zeros((len(imgs), g * g), np.uint8)
    present = np.zeros((len(imgs), 36), np.float32)
    for i, ob in enumerate(objs):
        for cb, x0, y0, x1, y1 in ob:
            cov = patch_cover((x0, y0, x1, y1), g, SRC)
            dense[i, :, cb] |= cov
            if x1 - x0 <= SMALL_PX:
                small[i] |= cov
            present[i, cb] = 1
    first = len(data.images)
    m = len(imgs)
    data.images = ImageBank(data.images.parts + [imgs])
    data.dense = np.concatenate([data.dense, dense])
    data.dmask = np.concatenate([data.dmask, np.ones(m, np.float32)])
    data.small = np.concatenate([data.small, small])
    data.present = np.concatenate([data.present, present])
    data.pmask = np.concatenate([data.pmask, np.ones((m, 36), np.float32)])
    data.word = np.concatenate([data.word, np.full(m, -100, np.int64)])
    data.count = np.concatenate([data.count, np.full((m, 36), -100, np.int64)])
    data.img_kind = list(data.img_kind) + ["dense"] * m
    return first


def make_suites(gen, work, seed0, plan, jobs):
    """plan: {kind: (n_chunks, n_per_chunk)}; returns [(kind, dir)]."""
    todo = []
    for ki, kind in enumerate(KINDS):
        nc, n = plan.get(kind, (0, 0))
        for c in range(nc):
            seed = seed0 + c
            todo.append((kind, os.path.join(work, f"{kind}-{seed}"), n, seed))
    with ThreadPoolExecutor(jobs) as ex:
        list(ex.map(lambda t: run_gen(gen, t[0], t[1], t[2], t[3]), todo))
    return [(k, d) for k, d, _, _ in todo]


# ---------------------------------------------------------------------------- model

# Debian's torch 1.13 multiplies float32 matrices with its generic BLAS fallback
# (BLAS_INFO=generic: ~23 GFLOP/s, one thread); oneDNN, which it also carries, is ~8x
# faster on the same products. On the CPU every nn.Linear goes through oneDNN (forward
# and both backward products), which makes a ViT step 2.5x faster.
def _mm_t(a, b):   # a @ b.T
    return torch._C._nn.mkldnn_linear(a.contiguous().to_mkldnn(), b.contiguous()).to_dense()


class _OneDnnLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        y = _mm_t(x.reshape(-1, x.shape[-1]), w)
        if b is not None:
            y = y + b
        return y.view(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g2, x2 = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        gx = _mm_t(g2, w.t()).view(x.shape) if ctx.needs_input_grad[0] else None
        gw = _mm_t(g2.t(), x2.t()) if ctx.needs_input_grad[1] else None
        return gx, gw, g2.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None


def use_onednn_linear():
    if not (torch.backends.mkldnn.is_available() and hasattr(torch._C._nn, "mkldnn_linear")):
        return False
    plain = nn.Linear.forward
    nn.Linear.forward = lambda self, x: (_OneDnnLinear.apply(x, self.weight, self.bias)
                                         if x.device.type == "cpu" and x.dtype == torch.float32
                                         and x.numel() else plain(self, x))
    return True


def attention(q, k, v, causal=False):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if causal:
        T = s.shape[-1]
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool, device=s.device).triu(1), float("-inf"))
    return s.softmax(-1) @ v


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


class VBlock(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, ff)
        self.fc2 = nn.Linear(ff, d)

    def forward(self, z):
        B, T, D = z.shape
        x = self.ln1(z)
        sh = lambda t: t.view(B, T, self.h, D // self.h).transpose(1, 2)
        a = attention(sh(self.q(x)), sh(self.k(x)), sh(self.v(x)))
        z = z + self.o(a.transpose(1, 2).reshape(B, T, D))
        return z + self.fc2(quick_gelu(self.fc1(self.ln2(z))))


class ViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, g = c["v_dim"], c["img"] // c["patch"]
        self.patch = nn.Conv2d(3, d, c["patch"], c["patch"], bias=False)
        self.cls = nn.Parameter(torch.randn(d) * 0.02)
        self.pos = nn.Parameter(torch.randn(g * g + 1, d) * 0.02)
        self.pre_ln = nn.LayerNorm(d, eps=1e-5)
        self.blocks = nn.ModuleList(VBlock(d, c["v_heads"], c["v_ff"]) for _ in range(c["v_layers"]))
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, u8):   # u8: [B, S, S, 3] uint8
        return self.top(self.lower(u8, len(self.blocks)), len(self.blocks))

    def lower(self, u8, n):
        """The residual stream (CLS included) after the first n blocks."""
        x = (u8.permute(0, 3, 1, 2).float() / 255.0 - self.mean) / self.std
        e = self.patch(x).flatten(2).transpose(1, 2)
        z = torch.cat([self.cls.expand(e.shape[0], 1, -1), e], 1) + self.pos
        z = self.pre_ln(z)
        for b in self.blocks[:n]:
            z = b(z)
        return z

    def top(self, z, n):
        """The blocks from the n-th on, over lower()'s output; the image tokens' features."""
        for b in self.blocks[n:]:
            z = b(z)
        return z[:, 1:]   # drop CLS


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps).to(x.dtype) * self.w


class TBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, ff = c["t_dim"], c["t_ff"]
        self.h = c["t_heads"]
        self.attn_norm = RMSNorm(d, c["eps"])
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.ffn_norm = RMSNorm(d, c["eps"])
        self.gate = nn.Linear(d, ff, bias=False)
        self.up = nn.Linear(d, ff, bias=False)
        self.down = nn.Linear(ff, d, bias=False)

    def forward(self, x, cos, sin):
        B, T, D = x.shape
        hd = D // self.h
        h = self.attn_norm(x)
        sh = lambda t: t.view(B, T, self.h, hd).transpose(1, 2)
        q, k, v = sh(self.wq(h)), sh(self.wk(h)), sh(self.wv(h))

        def rope(t):   # HF rotate_half
            t1, t2 = t[..., : hd // 2], t[..., hd // 2:]
            return t * cos + torch.cat([-t2, t1], -1) * sin
        a = attention(rope(q), rope(k), v, causal=True)
        x = x + self.wo(a.transpose(1, 2).reshape(B, T, D))
        h = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class TinyLlava(nn.Module):
    def __init__(self, c, n_words):
        super().__init__()
        self.c = c
        self.vit = ViT(c)
        self.mm0 = nn.Linear(c["v_dim"], c["t_dim"])
        self.mm2 = nn.Linear(c["t_dim"], c["t_dim"])
        self.embd = nn.Parameter(torch.randn(c["vocab"], c["t_dim"]) * 0.02)
        self.layers = nn.ModuleList(TBlock(c) for _ in range(c["t_layers"]))
        self.out_norm = RMSNorm(c["t_dim"], c["eps"])
        # grounding heads (stage 1; not exported). Presence is multiple-instance: a
        # per-token combo score, max over the tokens, so each image token has to say
        # what it shows (what the decoder's attention can then look up).
        d = c["v_dim"]
        self.g_present = nn.Linear(d, N_DENSE)   # per token: combos, ink, letters (dense labels)
        self.g_mean = nn.Linear(d, 36)      # from the token mean: what uniform attention sees
        self.g_ln = nn.LayerNorm(2 * d)
        self.g_word = nn.Linear(2 * d, n_words)
        self.g_count = nn.Linear(2 * d, 36 * 9)
        # per token, factorized: the shape and the colour of the one object it shows, or
        # none (class 6); a softmax per token, so telling the shapes of one colour apart
        # is the task itself rather than one term among 63 binary ones
        self.g_shape = nn.Linear(d, 7)
        self.g_colour = nn.Linear(d, 7)
        # symbolic image rows (stage 0; not exported): a vector per dense channel
        self.sym_v = nn.Parameter(torch.randn(N_DENSE, c["t_dim"]) * 0.02)
        self.sym_bg = nn.Parameter(torch.randn(c["t_dim"]) * 0.02)
        hd = c["t_dim"] // c["t_heads"]
        inv = 1.0 / (c["rope_base"] ** (torch.arange(0, hd, 2).double() / hd))
        ang = torch.arange(c["ctx"]).double()[:, None] * inv[None]
        ang = torch.cat([ang, ang], -1)
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)
        # per token, reading (text images, --read): the letter under the token and the
        # word it belongs to, a softmax each on the word's ink tokens only. Made on a
        # forked RNG so the other parameters (and so earlier recipes) start as before.
        with torch.random.fork_rng():
            self.g_letter = nn.Linear(d, 26)
            self.g_wtok = nn.Linear(d, n_words)

    def project(self, feats):
        return self.mm2(F.gelu(self.mm0(feats)))   # exact GELU: llava mode

    def ground(self, feats):
        dense = self.g_present(feats)
        p = self.g_ln(torch.cat([feats.mean(1), feats.amax(1)], -1))
        return dense, self.g_mean(feats.mean(1)), self.g_word(p), self.g_count(p).view(-1, 36, 9)

    def decode(self, x):
        T = x.shape[1]
        cos, sin = self.cos[:T], self.sin[:T]
        for l in self.layers:
            x = l(x, cos, sin)
        return self.out_norm(x)

    def logits(self, h):
        return h @ self.embd.t()


@torch.no_grad()
def seed_circuit(model, combo_tok, colon, yes, no, A=0.2, kappa=1.25, beta=3.0, sink=0.5, gy=0.05):
    """Initial values for the decoder's first two layers that compare the question's
    combo with the image rows, so stage 0 starts off the yes/no plateau (the answer is
    an interaction between question and image: with a random start neither the path
    from the question nor the one from the image gets a gradient until the other
    exists, and 13,000+ probes stayed at chance). Everything stays trainable.

    Directions (orthonormal, random): the colour and shape words get a marker and a
    2-d code (angle 2*pi*k/6); the ':' of "ASSISTANT:" a marker; stage 0's combo rows
    a marker r and both codes. Layer 0: heads 0 / 2 at ':' attend to the colour / shape
    words and copy their codes. Layer 1 head 0 at ':' scores each row by how well its
    codes match the question's (full match 2, shared colour or shape at most 1.5),
    against a sink (the ':' positions) set between the two, and reads the rows'
    marker r: much attention on object rows = a matching object. All scores use the
    lowest RoPE frequencies (dims 9-11 of 24 per head, < 0.05 rad over the prompt).
    Heads and FFNs not used start with zero output weights."""
    c = model.c
    D, hd = c["t_dim"], c["t_dim"] // c["t_heads"]
    g = torch.Generator().manual_seed(7)
    dirs = torch.linalg.qr(torch.randn(D, 17, generator=g))[0].t()
    z, mc, ms, a1, a2, b1, b2, r, cq1, cq2, sq1, sq2, y, ra1, ra2, rb1, rb2 = dirs
    ang = [2 * math.pi * k / 6 for k in range(6)]
    E = model.embd
    E[colon] += A * z
    for k in range(36):
        ci, si = combo_tok[k]
        col, shp = k % 6, k // 6
        ccode = math.cos(ang[col]) * a1 + math.sin(ang[col]) * a2
        scode = math.cos(ang[shp]) * b1 + math.sin(ang[shp]) * b2
        if k // 6 == 0:   # once per colour
            E[torch.tensor(ci)] = torch.randn(len(ci), D, generator=g) * 0.02 + A * (mc + ccode)
        if k % 6 == 0:    # once per shape
            E[torch.tensor(si)] = torch.randn(len(si), D, generator=g) * 0.02 + A * (ms + scode)
        # the rows carry the codes in their own directions, so the question's words
        # (which carry them too) are not keys of the comparison
        model.sym_v[k] += A * (r + math.cos(ang[col]) * ra1 + math.sin(ang[col]) * ra2
                               + math.cos(ang[shp]) * rb1 + math.sin(ang[shp]) * rb2)
    for l in model.layers:
        l.wo.weight.zero_()
        l.down.weight.zero_()
    j11, j10, j9 = hd // 2 - 1, hd // 2 - 2, hd // 2 - 3
    L0, L1 = model.layers[0], model.layers[1]
    gain = 0.035   # the copied codes land in the residual at about the embeddings' scale
    for h, marker, c1, c2, o1, o2 in ((0, mc, a1, a2, cq1, cq2), (2, ms, b1, b2, sq1, sq2)):
        o = h * hd
        L0.wq.weight[o: o + hd] = 0
        L0.wk.weight[o: o + hd] = 0
        L0.wv.weight[o: o + hd] = 0
        L0.wq.weight[o + j11] = kappa * z
        L0.wk.weight[o + j11] = kappa * marker
        L0.wv.weight[o] = c1
        L0.wv.weight[o + 1] = c2
        L0.wo.weight[:, o] = gain * o1
        L0.wo.weight[:, o + 1] = gain * o2
    for w in (L1.wq, L1.wk, L1.wv):
        w.weight[:hd] = 0
    L1.wq.weight[j11], L1.wq.weight[j11 + hd // 2] = beta * cq1, beta * cq2
    L1.wk.weight[j11], L1.wk.weight[j11 + hd // 2] = ra1, ra2
    L1.wq.weight[j10], L1.wq.weight[j10 + hd // 2] = beta * sq1, beta * sq2
    L1.wk.weight[j10], L1.wk.weight[j10 + hd // 2] = rb1, rb2
    L1.wq.weight[j9] = beta * sink * 2 * z
    L1.wk.weight[j9] = z
    L1.wv.weight[0] = r   # attention on object rows ...
    L1.wv.weight[1] = z   # ... against attention on the sink
    L1.wo.weight[:, 0] = gy * y
    L1.wo.weight[:, 1] = -gy * y
    E[torch.tensor(yes)] += 2 * A * (z + y)   # the answer position reads Yes / No along y
    E[torch.tensor(no)] += 2 * A * (z - y)


def build_batch(model, sys_ids, img_emb, users, answers, dev):
    """Embeddings of [system | image rows | user + answer tokens] (right padded) and
    the targets (next token at answer positions, else -100)."""
    B = img_emb.shape[0]
    ns, ni = len(sys_ids), img_emb.shape[1]
    tails = [u + a[:-1] for u, a in zip(users, answers)]
    L = max(len(t) for t in tails)
    ids = torch.zeros(B, L, dtype=torch.long)
    tgt = torch.full((B, ns + ni + L), -100, dtype=torch.long)
    for b, (u, a) in enumerate(zip(users, answers)):
        t = u + a[:-1]
        ids[b, : len(t)] = torch.tensor(t)
        start = ns + ni + len(u) - 1           # position of the last user token (":")
        tgt[b, start: start + len(a)] = torch.tensor(a)
    ids, tgt = ids.to(dev), tgt.to(dev)
    se = model.embd[torch.tensor(sys_ids, device=dev)].unsqueeze(0).expand(B, -1, -1)
    x = torch.cat([se, img_emb.to(se.dtype), model.embd[ids]], 1)
    return x, tgt


# ------------------------------------------------------------------------- training

def resume_path(a):
    return os.path.join(a.out, "resume.pt")


def resume_key(a):
    """The arguments a resume checkpoint must agree on (not those that only change
    speed or logging)."""
    return {k: v for k, v in sorted(vars(a).items())
            if k not in ("threads", "jobs", "ckpt_every", "log_every")
            and not (k in LATER_FLAGS and v == LATER_FLAGS[k])}


# flags added after checkpoints were saved: left out of resume_key at their defaults, so
# those checkpoints still resume
LATER_FLAGS = dict(small_w=1.0, heads_only=False, tune_top=0)


def lr_at(step, total, base, warm=100):
    if step < warm:
        return base * (step + 1) / warm
    return base * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def sample_batch(data, rng, bs, mix, easy=False):
    """Probe indices, kinds drawn by `mix`; easy: only the larger half of each kind's
    detail sizes (the curriculum's first phase)."""
    kinds = rng.choice(len(KINDS), size=bs, p=mix)
    pools = data.easy_idx if easy else data.kind_idx
    out = []
    for k in kinds:
        idx = pools[KINDS[k]]
        out.append(int(idx[rng.integers(len(idx))]))
    return out


def ground_loss(model, feats, data, imgs, dev):
    dense, pres, word, cnt = model.ground(feats)
    dt = torch.from_numpy(data.dense[imgs]).to(dev).float()
    dm = torch.from_numpy(data.dmask[imgs]).to(dev)
    # positives are rare (a few tokens of 64, a few combos of 36): weighted up, or the
    # encoder settles on the all-negative prior for a long time
    ld = F.binary_cross_entropy_with_logits(dense.float(), dt, reduction="none",
                                            pos_weight=dt.new_full((dt.shape[-1],), 20.0)).sum(-1).mean(-1)
    ld = (ld * dm).sum() / dm.sum().clamp(min=1)
    p = torch.from_numpy(data.present[imgs]).to(dev)
    m = torch.from_numpy(data.pmask[imgs]).to(dev)
    lp = (F.binary_cross_entropy_with_logits(pres.float(), p, reduction="none",
                                             pos_weight=p.new_full((36,), 5.0)) * m).sum() \
        / (m.sum(-1) > 0).sum().clamp(min=1) + ld
    w = torch.from_numpy(data.word[imgs]).to(dev)
    lw = F.cross_entropy(word.float(), w, ignore_index=-100) if (w >= 0).any() else pres.sum() * 0
    cn = torch.from_numpy(data.count[imgs]).to(dev)
    lc = F.cross_entropy(cnt.float().reshape(-1, 9), cn.reshape(-1), ignore_index=-100) \
        if (cn >= 0).any() else pres.sum() * 0
    # the other heads at this weight: with the gradient clipped to norm 1, their large
    # losses (the word head's stays near ln 100 for long) would otherwise shrink the
    # shape signal to nothing
    lp, lw, lc = FACTOR["bce"] * lp, FACTOR["bce"] * lw, FACTOR["bce"] * lc
    if FACTOR["w"] > 0:
        # the token's one object (exactly one combo covers it), or none; several: no label
        dc = dt[..., :36]
        n = dc.sum(-1)
        cb = dc.argmax(-1)
        none = n == 0
        sh = torch.where(none, torch.full_like(cb, 6), cb // 6)
        co = torch.where(none, torch.full_like(cb, 6), cb % 6)
        bad = (n > 1) | (dm[:, None] == 0)
        sh, co = sh.masked_fill(bad, -100), co.masked_fill(bad, -100)
        # --small-w: the tokens of the smallest objects weighted up (a 4-12 px object is one or
        # two tokens of 256, its shape told by a few pixels); at weight 1 the plain mean, the
        # committed recipe's exact computation (reruns compare its logged losses to 4 decimals)
        tw = None if FACTOR["small"] == 1 else \
            torch.from_numpy(data.small[imgs]).to(dev).reshape(-1).float() * (FACTOR["small"] - 1) + 1

        def token_ce(head, t):
            logits, t = head(feats).float().reshape(-1, 7), t.reshape(-1)
            if tw is None:
                return F.cross_entropy(logits, t, ignore_index=-100)
            ce = F.cross_entropy(logits, t, ignore_index=-100, reduction="none")
            return (ce * tw).sum() / (tw * (t >= 0)).sum().clamp(min=1)
        ls, lcol = token_ce(model.g_shape, sh), token_ce(model.g_colour, co)
        loss, info = lp + lw + lc + FACTOR["w"] * (ls + lcol), (round(lp.item(), 3), round(lw.item(), 3),
                                                                round(ls.item(), 3), round(lcol.item(), 3))
    else:
        loss, info = lp + lw + lc, (lp.item(), lw.item(), lc.item())
    if FACTOR["read"] > 0:
        lr_, info_r = read_loss(model, feats, dt, w)
        loss, info = loss + FACTOR["read"] * lr_, info + info_r
    return loss, info


def read_loss(model, feats, dt, w):
    """Per-token reading on text images: every token the word's ink covers names the
    word (so attention can find it in any one of them), and a token under exactly one
    letter names that letter (case folded). The pooled word head never left chance on
    a fresh encoder; these targets took a held-out word readout (ink tokens' mean log
    probability) from 0 to 54 % at >= 32 px in 800 steps of 64 (notes, session 9)."""
    ink = (dt[..., 36] > 0) & (w[:, None] >= 0)
    lets = dt[..., 37:]
    one = ink & (lets.sum(-1) == 1)
    out, info = feats.new_zeros(()), ()
    for head, tgt, m in ((model.g_wtok, w[:, None].expand_as(ink), ink), (model.g_letter, lets.argmax(-1), one)):
        if m.any():
            l_ = F.cross_entropy(head(feats[m]).float(), tgt[m])
            out = out + l_
            info = info + (round(l_.item(), 3),)
    return out, info


FACTOR = dict(w=0.0, bce=1.0, read=0.0, small=1.0)   # weights: factorized token loss (--factor), binary ones
#                                                     (--bce), reading (--read), small objects' tokens (--small-w)
SMALL_PX = 12   # the object-size ladder's 4-12 px objects (on the 336-px canvas)


AUGMENT = dict(on=False, noise=8.0, shift=0)   # no shift: it would move the dense labels


def images_to(dev, data, imgs, train=False):
    """A batch of images on the device; with --augment (training only) each view gets
    fresh Gaussian pixel noise and a small shift, so the per-image background noise
    cannot be memorized."""
    if dev.type == "cpu":   # gathered from memory (and the memory-mapped scenes)
        x = torch.from_numpy(data.images.take(imgs))
    else:
        if getattr(data, "images_t", None) is None:   # the whole set lives on the device
            data.images_t = torch.cat([torch.from_numpy(np.ascontiguousarray(p)).to(dev)
                                       for p in data.images.parts])
        x = data.images_t[torch.as_tensor(imgs, device=dev)]
    if train and AUGMENT["on"]:
        k = AUGMENT["shift"]
        x = x.float()
        if k:
            dy, dx = (int(v) for v in torch.randint(-k, k + 1, (2,)))
            x = torch.roll(x, shifts=(dy, dx), dims=(1, 2))
        x = (x + torch.randn_like(x) * AUGMENT["noise"]).round().clamp(0, 255)
    return x


@torch.no_grad()
def vit_features(model, data, dev, bs=256, n=None, upto=None):
    """The frozen encoder's output for the first n images, default all (float16, on
    the CPU); with upto, the residual stream after that many blocks (CLS included)."""
    was = model.training
    model.eval()
    n = len(data.images) if n is None else n
    out = None
    for s0 in range(0, n, bs):
        u8 = images_to(dev, data, np.arange(s0, min(n, s0 + bs)))
        f = (model.vit(u8) if upto is None else model.vit.lower(u8, upto)).half().cpu()
        if out is None:
            out = torch.empty((n,) + tuple(f.shape[1:]), dtype=torch.float16)
        out[s0: s0 + len(f)] = f
    model.train(was)
    return out


def token_shapes(data):
    """Each token's shape label: the shape of the one object it shows, and whether it shows
    exactly one (tokens on none or on several have no label)."""
    dc = torch.from_numpy(data.dense[..., :36]).long()
    return dc.argmax(-1) // 6, dc.sum(-1) == 1


@torch.no_grad()
def ground_eval(model, data, dev):
    """How well the grounding heads alone answer the suite's own probes (object-size:
    the token-mean presence head; text-size: the word head), as a check that the
    encoder generalizes before any decoder is trained."""
    f = vit_features(model, data, dev).float().to(dev)
    out = {}
    for s0 in range(0, len(f), 512):
        dense, pres, word, _ = model.ground(f[s0: s0 + 512])
        out.setdefault("pres", []).append(pres.cpu())
        out.setdefault("dmax", []).append(dense[..., :36].amax(1).cpu())
        out.setdefault("word", []).append(word.argmax(-1).cpu())
        if FACTOR["w"] > 0:
            out.setdefault("shape", []).append(model.g_shape(f[s0: s0 + 512]).argmax(-1).cpu())
        if FACTOR["read"] > 0:   # the word from the ink tokens' mean log probability
            ink = torch.from_numpy(data.dense[s0: s0 + 512, :, 36] > 0).to(dev)
            lp = F.log_softmax(model.g_wtok(f[s0: s0 + 512]).float(), -1)
            out.setdefault("wtok", []).append((lp * ink[..., None]).sum(1).argmax(-1).cpu())
    pres, dmax, word = torch.cat(out["pres"]), torch.cat(out["dmax"]), torch.cat(out["word"])
    extra = {}
    if FACTOR["w"] > 0:   # per-token shape of the one object a token shows, object-size images
        label, one = token_shapes(data)
        one &= torch.tensor([k == "object-size" for k in data.img_kind])[:, None]
        shp = torch.cat(out["shape"])
        extra["shape-tok"] = round((shp[one] == label[one]).float().mean().item(), 3)
    if FACTOR["read"] > 0:
        big = np.array([k == "text-size" for k in data.img_kind]) & (data.word >= 0)
        big &= image_detail(data) >= 32
        if big.any():
            wt = torch.cat(out["wtok"]).numpy()
            extra["word-tok>=32"] = round(float((wt[big] == data.word[big]).mean()), 3)
    ok = {"object-size": [], "dense-max": [], "text-size": []}
    asked = [(smp["img"], combo_of(smp["meta"]["asked"])) for smp in data.samples if smp["kind"] == "object-size"]
    # balanced probes: threshold each score at its median over the asked combos; dense-max is
    # the best token's score, what one attention head can look up
    thr = float(np.median([pres[i, k].item() for i, k in asked])) if asked else 0.0
    thd = float(np.median([dmax[i, k].item() for i, k in asked])) if asked else 0.0
    for smp in data.samples:
        i = smp["img"]
        if smp["kind"] == "object-size":
            k, yes = combo_of(smp["meta"]["asked"]), smp["label"] == "yes"
            ok["object-size"].append((pres[i, k] > thr).item() == yes)
            ok["dense-max"].append((dmax[i, k] > thd).item() == yes)
        elif smp["kind"] == "text-size" and smp["meta"]["detail_px"] >= 32:
            ok["text-size"].append(int(word[i]) == int(data.word[i]))
    return {**{k: round(sum(v) / len(v), 3) for k, v in ok.items() if v}, **extra}


def train(model, data, tokens, a, dev, log, evdata=None):
    rng = np.random.default_rng(a.seed)
    amp = dict(device_type="cuda", dtype=torch.bfloat16) if dev.type == "cuda" else \
        dict(device_type="cpu", enabled=False)
    sys_ids = tokens["system"]
    mix = np.array([0.4, 0.3, 0.15, 0.15]) * np.array([k in a.kinds for k in KINDS])
    mix = mix / mix.sum()
    t_start = time.time()

    # Resumable stages: every --ckpt-every steps (and at each stage's end) the model,
    # optimizer, step and every random state go to OUT/resume.pt, so a process killed
    # mid-stage (a session's end) goes on from there when run again with the same
    # arguments, on the same schedule and batch order; main() removes it once model.pt
    # is saved.
    ck_path = resume_path(a)
    ck = {"args": resume_key(a), "done": [], "stage": None}
    ck_pending = False   # a checkpoint whose random states the next stage run restores
    if a.ckpt_every and os.path.exists(ck_path):
        now, ck = ck["args"], torch.load(ck_path, map_location=dev)
        old = ck.get("args") or {}
        if old != now:
            diff = ", ".join(f"--{k.replace('_', '-')} {old.get(k)!r} then, {now.get(k)!r} now"
                             for k in sorted(set(old) | set(now)) if old.get(k) != now.get(k))
            sys.exit(f"{ck_path}: saved by a run with other arguments ({diff}); delete it to start over")
        log(f"resuming from {ck_path}: stages done {ck['done']}, "
            f"{ck['stage'] or 'none'} at step {ck.get('step', 0)}")
        # the weights now: what runs between stages (the feature cache) needs them
        model.load_state_dict(ck["model"])
        ck_pending = True

    def ck_save(name, step, steps, opt):
        ck.update(stage=name, step=step, steps=steps, model=model.state_dict(),
                  opt=opt.state_dict() if name else None, rng=rng.bit_generator.state,
                  torch_rng=torch.get_rng_state(), np_rng=np.random.get_state())
        tmp = ck_path + ".tmp"
        torch.save(ck, tmp)
        os.replace(tmp, ck_path)   # a kill mid-write leaves the last whole checkpoint

    def stage(name, steps, params, lr, fn, cap, wd=0.05):
        # params: a list of tensors, or of groups {"params": [...], "scale": s} whose
        # learning rate is s times the stage's schedule
        nonlocal ck_pending
        if name in ck["done"]:
            log(f"{name}: done before the resume, skipped")
            return
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd, betas=(0.9, 0.98))
        t0 = time.time()
        step, t10 = 0, None
        if ck_pending:   # the state where the last run stopped
            ck_pending = False
            rng.bit_generator.state = ck["rng"]
            torch.set_rng_state(ck["torch_rng"])
            np.random.set_state(ck["np_rng"])
            if ck["stage"] == name:
                opt.load_state_dict(ck["opt"])
                step, steps = ck["step"], ck["steps"]   # (t10 stays unset: no shortening)
            log(f"{name}: resumed at step {step}/{steps}")
        while step < steps:
            if step == 10:
                t10 = time.time()
            if step == 40 and t10 is not None:   # fit the schedule into the time cap (the log records the steps run)
                per = (time.time() - t10) / 30
                if (time.time() - t0) + per * (steps - 40) > cap:
                    steps = max(41, 40 + int((cap - (time.time() - t0)) / per))
                    log(f"{name}: {per * 1000:.1f} ms/step, schedule shortened to {steps} steps")
            for g in opt.param_groups:
                g["lr"] = lr_at(step, steps, lr) * g.get("scale", 1.0)
            with torch.autocast(**amp):
                loss, info = fn(step, steps)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
            opt.step()
            if step % a.log_every == 0 or step == steps - 1:
                extra = ""
                if name in ("stage1", "stage4") and evdata is not None and (step % (4 * a.log_every) == 0 or step == steps - 1):
                    extra = f" held-out grounding {ground_eval(model, evdata, dev)}"
                log(f"{name} step {step}/{steps} loss {loss.item():.4f} {info} "
                    f"{time.time() - t0:.0f}s{extra}")
            if time.time() - t0 > 1.2 * cap:
                log(f"{name}: time cap {cap}s overrun at step {step}")
                break
            step += 1
            if a.ckpt_every and step % a.ckpt_every == 0 and step < steps:
                ck_save(name, step, steps, opt)
        if a.ckpt_every:
            ck["done"].append(name)
            ck_save(None, 0, 0, opt)

    vit_params = list(model.vit.parameters())
    head_params = list(model.g_ln.parameters()) + list(model.g_present.parameters()) + \
        list(model.g_mean.parameters()) + \
        list(model.g_word.parameters()) + list(model.g_count.parameters()) + \
        list(model.g_shape.parameters()) + list(model.g_colour.parameters()) + \
        list(model.g_letter.parameters()) + list(model.g_wtok.parameters())
    proj_params = list(model.mm0.parameters()) + list(model.mm2.parameters())
    dec_params = [model.embd] + list(model.layers.parameters()) + list(model.out_norm.parameters())
    sym_params = [model.sym_v, model.sym_bg]
    n_img = len(data.images)
    d0 = n_img - a.dense   # the crowded scenes (--dense) come after the suites' images

    # Probes drawn fresh each step from what each image holds: any of the 36 combos can
    # be asked (yes for a present one, no for an absent one, half of those sharing a
    # colour or shape with a present one); the word for text images.
    eos = tokens["eos"]
    combo_q = [tokens["user"][f"Is there {'an' if nm[0] in 'aeiou' else 'a'} {nm} in the image?"]
               for nm in tokens["combos"]]
    yes, no = tokens["answer"]["Yes"] + [eos], tokens["answer"]["No"] + [eos]
    word_q = tokens["user"]["What word is written in the image?"]
    word_a = [tokens["answer"][w] + [eos] for w in tokens["words"]]
    img_detail = image_detail(data)
    kinds_img = np.array(data.img_kind)
    pools = {}
    for k in ("object-size", "text-size"):
        idx = np.flatnonzero(kinds_img == k)
        if len(idx):
            pools[k] = (idx, idx[img_detail[idx] >= np.median(img_detail[idx])])
    share = np.array([1.0 - a.text_share if "object-size" in pools else 0,
                      a.text_share if "text-size" in pools else 0], float)
    share = share / share.sum()

    def probe(i):
        if data.img_kind[i] == "text-size":
            return word_q, word_a[data.word[i]], 1
        pres = np.flatnonzero(data.present[i])
        if rng.random() < 0.5:
            return combo_q[int(rng.choice(pres))], yes, 0
        absent = [k for k in range(36) if not data.present[i, k]]
        if a.neg_same_colour and rng.random() < a.neg_same_colour:
            # the colour of a present object in another shape: only shape tells (POPE's
            # adversarial negatives, where a colour reader fails)
            same = [k for k in absent if any(k % 6 == q % 6 for q in pres)]
            if same:
                return combo_q[int(rng.choice(same))], no, 0
        if rng.random() < 0.5:
            hard = [k for k in absent if any(k // 6 == q // 6 or k % 6 == q % 6 for q in pres)]
            absent = hard or absent
        return combo_q[int(rng.choice(absent))], no, 0

    def lm_probe_step(step, steps, rows_of, bs, easy_frac=0.2):
        """One batch of instruction probes; rows_of(imgs) gives the image rows."""
        easy = 1 if step < easy_frac * steps else 0
        ks = rng.choice(2, size=bs, p=share)
        names = ("object-size", "text-size")
        imgs = [int(pools[names[k]][easy][rng.integers(len(pools[names[k]][easy]))]) for k in ks]
        pr = [probe(i) for i in imgs]
        img_rows = rows_of(imgs)
        x, tgt = build_batch(model, sys_ids, img_rows, [q for q, _, _ in pr],
                             [t for _, t, _ in pr], dev)
        h = model.decode(x)
        sel = tgt >= 0
        lg = model.logits(h[sel]).float()
        loss = F.cross_entropy(lg, tgt[sel])
        # whole-answer accuracy in this batch (teacher forced), per kind
        ok = (lg.argmax(-1) == tgt[sel]).float()
        rows = sel.nonzero()[:, 0]
        allok = torch.ones(len(imgs), device=dev).index_reduce_(0, rows, ok, "amin")
        kk = torch.tensor([k for _, _, k in pr], device=dev)
        info = (round(loss.item(), 4), round(allok[kk == 0].mean().item(), 3),
                round(allok[kk == 1].mean().item(), 3))
        if a.copy:
            lcp = copy_loss(imgs, img_rows)
            loss = loss + a.copy * lcp
            info = info + (round(lcp.item(), 3),)
        return loss, info

    def copy_loss(imgs, img_rows):
        """--copy: each ink row of a text image, read as if it were the decoder's last
        hidden state (out_norm, then the tied output), names the answer's first token.
        The decoder then has only to attend to an ink row and pass it on; without this
        the answer is a new mapping learned through attention from a standing start, and
        600 steps of stage 3 left whole-word accuracy at 0-6 % while a linear readout of
        the same rows' features read 43 % (session 9)."""
        im = np.asarray(imgs)
        ink = torch.from_numpy((data.dense[im, :, 36] > 0) & (data.word[im] >= 0)[:, None]).to(dev)
        if not ink.any():
            return img_rows.sum() * 0
        first = torch.tensor([word_a[w][0] if w >= 0 else 0 for w in data.word[im]], device=dev)
        return F.cross_entropy(model.logits(model.out_norm(img_rows[ink])).float(),
                               first[:, None].expand_as(ink)[ink])

    # the colour and shape words' token ids for each combo, from its question
    words_of = [q[3: q.index(297)] for q in combo_q]   # between the article and " in"
    combo_tok = []
    for c in range(36):
        same = [words_of[k] for k in range(36) if k % 6 == c % 6]
        n = 0
        while all(len(t) > n + 1 and t[n] == same[0][n] for t in same):
            n += 1
        combo_tok.append((words_of[c][:n], words_of[c][n:]))
    assert all(ci and si for ci, si in combo_tok), combo_tok

    def sym_rows(imgs, noisy):
        """Symbolic image rows: a learned vector per dense channel (combo, ink, letter),
        summed over what each image token covers, from the generator's own boxes. With
        noise (labels dropped, spurious ones added, strengths varied) so the decoder
        learns to read rows as imperfect as a real encoder's."""
        d = torch.from_numpy(data.dense[np.asarray(imgs)]).to(dev).float()
        if noisy:
            keep = (torch.rand_like(d) > a.sym_drop).float()
            spur = (torch.rand_like(d) < a.sym_spur).float()
            d = (d * keep + spur).clamp(max=1) * torch.empty_like(d).uniform_(0.5, 1.5)
        return model.sym_bg + d @ model.sym_v

    if "0" in a.stages and a.seed_circuit and not a.init and not ck_pending:   # (a resume has its weights)
        seed_circuit(model, combo_tok, combo_q[0][-1], tokens["answer"]["Yes"], tokens["answer"]["No"])

    # Stage 0: the decoder learns the instruction format and how to read image rows
    # on symbolic rows (no encoder: cheap, and the task is learned on clean inputs
    # before it has to be learned from a vision encoder's features).
    model.train()
    if "0" in a.stages:
        stage("stage0", a.steps0, dec_params + sym_params, a.lr0,
              lambda s, n: lm_probe_step(s, n, lambda im: sym_rows(im, True), a.bs), a.cap0)

    # Stage 1: ground the vision encoder.
    # --bs-read: text images a step (capitals >= --read-min px) for the reading losses
    read_pool = np.flatnonzero((kinds_img == "text-size") & (img_detail >= a.read_min))

    def read_imgs():
        return read_pool[rng.integers(len(read_pool), size=a.bs_read)] if a.bs_read and len(read_pool) \
            else np.zeros(0, np.int64)

    def s1(step, steps):
        imgs = rng.integers(n_img, size=a.bs1)
        if a.dense:   # this share of the batch from the crowded scenes
            nd = int(round(a.dense_share * a.bs1))
            imgs[:nd] = d0 + rng.integers(a.dense, size=nd)
            imgs[nd:] = rng.integers(d0, size=a.bs1 - nd)
        imgs = np.concatenate([imgs, read_imgs()])
        with torch.set_grad_enabled(not a.heads_only):
            feats = model.vit(images_to(dev, data, imgs, train=True))
        return ground_loss(model, feats, data, imgs, dev)
    if "1" in a.stages:
        stage("stage1", a.steps1, head_params if a.heads_only else vit_params + head_params, a.lr1, s1,
              a.cap1, wd=0.0)

    # The encoder is frozen in stages 2-3, so its features are computed once per image.
    for p in vit_params:
        p.requires_grad_(False)
    if "2" in a.stages or "3" in a.stages:
        # stage 3 asks about the suites' images only; stage 2 also regresses on the scenes
        n_cache = n_img if "2" in a.stages else d0
        # --tune-top K: the residual stream below the last K blocks, which then learn in stage 3
        low = len(model.vit.blocks) - a.tune_top if a.tune_top else None
        cache = vit_features(model, data, dev, n=n_cache, upto=low)
        log(f"features of {n_cache} images cached in {time.time() - t_start:.0f}s"
            + (f" (after block {low}; the last {a.tune_top} learn)" if low is not None else ""))
    # Stage 2: align the projector: regress its output onto the clean symbolic rows the
    # decoder learned to read (encoder and decoder frozen, as LLaVA aligns its
    # projector), then the language loss through the frozen decoder.
    if "2" in a.stages:
        def s2(step, steps):
            imgs = rng.integers(n_img, size=256)
            with torch.no_grad():
                target = sym_rows(imgs, False)
            out = model.project(cache[torch.as_tensor(imgs)].to(dev).float())
            loss = F.mse_loss(out, target)
            return loss, (round(loss.item(), 4),)
        stage("stage2", a.steps2, proj_params, a.lr2, s2, a.cap2)
    # Stage 3: projector + decoder on the instruction probes with the real features.
    if "3" in a.stages and a.tune_top:
        # the encoder's last blocks end to end through the decoder, at --vit-scale4 times the
        # schedule, their grounding losses on the probe images at --g4-probe (the heads learn
        # too): part of stage 4's lever at a quarter of its cost a step at 336 px (11 s against
        # 42 s on two cores), since the lower blocks' output is cached (no augmentation: the
        # cache holds one view of each image)
        top_params = [p for b in model.vit.blocks[low:] for p in b.parameters()]
        for p in top_params:
            p.requires_grad_(True)

        def s3top(step, steps):
            seen = {}

            def rows(im):
                seen["imgs"] = im
                seen["feats"] = model.vit.top(cache[torch.as_tensor(im)].to(dev).float(), low)
                return model.project(seen["feats"])
            loss, info = lm_probe_step(step, steps, rows, a.bs, 0.0)
            if a.g4_probe:
                lg, ginfo = ground_loss(model, seen["feats"], data, np.asarray(seen["imgs"]), dev)
                loss, info = loss + a.g4_probe * lg, info + ginfo
            return loss, info
        stage("stage3", a.steps3,
              [{"params": top_params + (head_params if a.g4_probe else []), "scale": a.vit_scale4},
               {"params": proj_params + dec_params, "scale": 1.0}], a.lr3, s3top, a.cap3)
    elif "3" in a.stages:
        stage("stage3", a.steps3, proj_params + dec_params, a.lr3,
              lambda s, n: lm_probe_step(s, n, lambda im: model.project(
                  cache[torch.as_tensor(im)].to(dev).float()), a.bs, 0.0), a.cap3)
    # Stage 4: everything at once, end to end: the instruction probes through encoder,
    # projector and decoder, and the per-token grounding losses on crowded scenes, so the
    # encoder keeps learning shape (its accuracy was still rising when stage 1 ended)
    # while the decoder learns to read what it gives.
    if "4" in a.stages:
        for p in vit_params:
            p.requires_grad_(True)

        def s4(step, steps):
            seen = {}

            def rows(im):
                seen["imgs"], seen["feats"] = im, model.vit(images_to(dev, data, im, train=True))
                return model.project(seen["feats"])
            loss, info = lm_probe_step(step, steps, rows, a.bs, 0.0)
            if a.g4_probe:   # the probe images' own boxes: the suite's sizes, 96 px included
                lg, _ = ground_loss(model, seen["feats"], data, np.asarray(seen["imgs"]), dev)
                loss = loss + a.g4_probe * lg
            if a.dense and a.bs4_dense:
                imgs = np.concatenate([d0 + rng.integers(a.dense, size=a.bs4_dense), read_imgs()])
                lg, ginfo = ground_loss(model, model.vit(images_to(dev, data, imgs, train=True)), data, imgs, dev)
                loss = loss + a.g4 * lg
                info = info + ginfo
            return loss, info
        stage("stage4", a.steps4,
              [{"params": vit_params + head_params, "scale": a.vit_scale4},
               {"params": proj_params + dec_params, "scale": 1.0}], a.lr4, s4, a.cap3)
    log(f"training done in {time.time() - t_start:.0f}s")


# ------------------------------------------------------------------------ evaluation

@torch.no_grad()
def evaluate(model, data, tokens, dev, bs=128, max_new=6):
    model.eval()
    sys_ids = tokens["system"]
    res = []
    amp = dict(device_type="cuda", dtype=torch.bfloat16) if dev.type == "cuda" else \
        dict(device_type="cpu", enabled=False)
    for s0 in range(0, len(data.samples), bs):
        idx = list(range(s0, min(len(data.samples), s0 + bs)))
        imgs = np.array([data.samples[i]["img"] for i in idx])
        with torch.autocast(**amp):
            emb = model.project(model.vit(images_to(dev, data, imgs)))
        gen = [[] for _ in idx]
        done = [False] * len(idx)
        for _ in range(max_new):
            users = [data.user[i] + g for i, g in zip(idx, gen)]
            with torch.autocast(**amp):
                x, _ = build_batch(model, sys_ids, emb, users, [[0]] * len(idx), dev)
                h = model.decode(x)
            last = torch.tensor([len(sys_ids) + emb.shape[1] + len(u) - 1 for u in users], device=dev)
            nxt = model.logits(h[torch.arange(len(idx), device=dev), last].float()).argmax(-1).tolist()
            for j, t in enumerate(nxt):
                if not done[j]:
                    if t == tokens["eos"]:
                        done[j] = True
                    else:
                        gen[j].append(t)
            if all(done):
                break
        for j, i in enumerate(idx):
            ok = gen[j] == data.ans[i][:-1]
            s = data.samples[i]
            res.append(dict(kind=s["kind"], detail=s["meta"]["detail_px"], ok=bool(ok), ids=gen[j]))
    model.train()
    return res


def summarize(res):
    out = {}
    for k in KINDS:
        r = [x for x in res if x["kind"] == k]
        if not r:
            continue
        out[k] = dict(n=len(r), acc=sum(x["ok"] for x in r) / len(r))
        by = {}
        for x in r:
            by.setdefault(x["detail"], []).append(x["ok"])
        out[k]["by_detail"] = {str(d): round(sum(v) / len(v), 3) for d, v in sorted(by.items())}
        if k == "text-size":
            big = [x["ok"] for x in r if x["detail"] >= 32]
            out[k]["acc_detail_ge32"] = sum(big) / max(1, len(big))
    return out


# ---------------------------------------------------------------------------- export

def export(model, c, out, name):
    """Raw little-endian float32 tensors + JSON specs for `llava-eval model pack`."""
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}

    def writer(fname):
        f = open(os.path.join(out, fname + ".bin"), "wb")
        tensors = []

        def add(tname, arr, ne, typ):
            arr = np.ascontiguousarray(arr, dtype="<f4")
            assert arr.size == int(np.prod(ne)), tname
            tensors.append(dict(name=tname, type=typ, ne=list(ne), offset=f.tell() // 4))
            f.write(arr.tobytes())
        return f, tensors, add

    # text model
    E, nh, L, ff = c["t_dim"], c["t_heads"], c["t_layers"], c["t_ff"]
    hd = E // nh

    def permute(w):   # convert_hf_to_gguf.py LlamaModel.permute
        return w.reshape(nh, 2, hd // 2, E).swapaxes(1, 2).reshape(E, E)
    f, tens, add = writer("text")
    add("token_embd.weight", sd["embd"], [E, c["vocab"]], "F16")
    for i in range(L):
        p = f"layers.{i}."
        add(f"blk.{i}.attn_q.weight", permute(sd[p + "wq.weight"]), [E, E], "F16")
        add(f"blk.{i}.attn_k.weight", permute(sd[p + "wk.weight"]), [E, E], "F16")
        add(f"blk.{i}.attn_v.weight", sd[p + "wv.weight"], [E, E], "F16")
        add(f"blk.{i}.attn_output.weight", sd[p + "wo.weight"], [E, E], "F16")
        add(f"blk.{i}.ffn_gate.weight", sd[p + "gate.weight"], [E, ff], "F16")
        add(f"blk.{i}.ffn_up.weight", sd[p + "up.weight"], [E, ff], "F16")
        add(f"blk.{i}.ffn_down.weight", sd[p + "down.weight"], [ff, E], "F16")
        add(f"blk.{i}.attn_norm.weight", sd[p + "attn_norm.w"], [E], "F32")
        add(f"blk.{i}.ffn_norm.weight", sd[p + "ffn_norm.w"], [E], "F32")
    add("output_norm.weight", sd["out_norm.w"], [E], "F32")
    f.close()
    n_params = sum(int(np.prod(t["ne"])) for t in tens)
    kv = [
        ["general.architecture", "str", "llama"],
        ["general.type", "str", "model"],
        ["general.name", "str", name + " text"],
        ["general.size_label", "str", f"{n_params / 1e6:.1f}M"],
        ["llama.block_count", "u32", L],
        ["llama.context_length", "u32", c["ctx"]],
        ["llama.embedding_length", "u32", E],
        ["llama.feed_forward_length", "u32", ff],
        ["llama.attention.head_count", "u32", nh],
        ["llama.attention.head_count_kv", "u32", nh],
        ["llama.rope.freq_base", "f32", c["rope_base"]],
        ["llama.attention.layer_norm_rms_epsilon", "f32", c["eps"]],
        ["general.file_type", "u32", 1],
        ["llama.vocab_size", "u32", c["vocab"]],
        ["llama.rope.dimension_count", "u32", hd],
        ["tokenizer.*", "copy", None],
        ["tokenizer.ggml.padding_token_id", "u32", 0],
        ["general.quantization_version", "u32", 2],
    ]
    with open(os.path.join(out, "text.json"), "w") as fj:
        json.dump(dict(data="text.bin", kv=kv, tensors=tens), fj, indent=1)

    # mmproj
    H, vff, VL = c["v_dim"], c["v_ff"], c["v_layers"]
    g = c["img"] // c["patch"]
    f, tens, add = writer("mmproj")
    add("mm.0.weight", sd["mm0.weight"], [H, E], "F16")
    add("mm.0.bias", sd["mm0.bias"], [E], "F32")
    add("mm.2.weight", sd["mm2.weight"], [E, E], "F16")
    add("mm.2.bias", sd["mm2.bias"], [E], "F32")
    add("v.class_embd", sd["vit.cls"], [H], "F32")
    add("v.patch_embd.weight", sd["vit.patch.weight"], [c["patch"], c["patch"], 3, H], "F16")
    add("v.position_embd.weight", sd["vit.pos"], [H, g * g + 1], "F16")
    add("v.pre_ln.weight", sd["vit.pre_ln.weight"], [H], "F32")
    add("v.pre_ln.bias", sd["vit.pre_ln.bias"], [H], "F32")
    for i in range(VL):
        p = f"vit.blocks.{i}."
        for gn, tn in (("attn_k", "k"), ("attn_v", "v"), ("attn_q", "q"), ("attn_out", "o")):
            add(f"v.blk.{i}.{gn}.weight", sd[p + tn + ".weight"], [H, H], "F16")
            add(f"v.blk.{i}.{gn}.bias", sd[p + tn + ".bias"], [H], "F32")
        add(f"v.blk.{i}.ln1.weight", sd[p + "ln1.weight"], [H], "F32")
        add(f"v.blk.{i}.ln1.bias", sd[p + "ln1.bias"], [H], "F32")
        add(f"v.blk.{i}.ffn_down.weight", sd[p + "fc1.weight"], [H, vff], "F16")   # fc1, H->F
        add(f"v.blk.{i}.ffn_down.bias", sd[p + "fc1.bias"], [vff], "F32")
        add(f"v.blk.{i}.ffn_up.weight", sd[p + "fc2.weight"], [vff, H], "F16")     # fc2, F->H
        add(f"v.blk.{i}.ffn_up.bias", sd[p + "fc2.bias"], [H], "F32")
        add(f"v.blk.{i}.ln2.weight", sd[p + "ln2.weight"], [H], "F32")
        add(f"v.blk.{i}.ln2.bias", sd[p + "ln2.bias"], [H], "F32")
    f.close()
    kv = [
        ["general.architecture", "str", "clip"],
        ["clip.has_text_encoder", "bool", False],
        ["clip.has_vision_encoder", "bool", True],
        ["clip.has_llava_projector", "bool", True],
        ["general.file_type", "u32", 1],
        ["general.name", "str", name + f" clip-vit-patch{c['patch']}-" + str(c["img"])],
        ["general.description", "str", "image encoder for LLaVA"],
        ["clip.projector_type", "str", "mlp"],
        ["clip.vision.image_size", "u32", c["img"]],
        ["clip.vision.patch_size", "u32", c["patch"]],
        ["clip.vision.embedding_length", "u32", H],
        ["clip.vision.feed_forward_length", "u32", vff],
        ["clip.vision.projection_dim", "u32", E],
        ["clip.vision.attention.head_count", "u32", c["v_heads"]],
        ["clip.vision.attention.layer_norm_epsilon", "f32", 1e-5],
        # Every stored block feeds the projector in llava mode (the "original" CLIP had
        # one more layer, dropped as the converter drops ViT-L's 24th).
        ["clip.vision.block_count", "u32", VL],
        ["clip.vision.image_mean", "f32[]", MEAN],
        ["clip.vision.image_std", "f32[]", STD],
        ["clip.use_gelu", "bool", False],
    ]
    with open(os.path.join(out, "mmproj.json"), "w") as fj:
        json.dump(dict(data="mmproj.bin", kv=kv, tensors=tens), fj, indent=1)


def read_gguf(path):
    """(metadata, {name: float32 array}) of a GGUF v2/v3 file whose tensors are F32 or
    F16 (what export + pack write for the text model's F16 file and the mmproj), so a
    run can start from the committed files (--init) instead of a model.pt."""
    import struct
    buf = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("Q")
        pos += n
        return buf[pos - n: pos].decode("utf-8")
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        if t not in scalar:
            raise ValueError(f"{path}: metadata type {t}")
        return take(scalar[t])
    if buf[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    pos = 4
    if take("I") not in (2, 3):
        raise ValueError(f"{path}: GGUF version not 2 or 3")
    n_t, n_kv = take("Q"), take("Q")
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take("I"))
    infos = []
    for _ in range(n_t):
        name = string()
        ne = [take("Q") for _ in range(take("I"))]
        infos.append((name, ne, take("I"), take("Q")))
    al = int(meta.get("general.alignment", 32))
    base = (pos + al - 1) // al * al
    out = {}
    for name, ne, typ, off in infos:
        if typ not in (0, 1):
            raise ValueError(f"{path}: {name} is type {typ}, only F32/F16 can be trained from")
        dt = np.float32 if typ == 0 else np.float16
        n = int(np.prod(ne))
        out[name] = np.frombuffer(buf, dt, n, base + off).astype(np.float32).reshape(ne[::-1])
    return meta, out


def as_f32(t):
    """A tensor as is; an array (F16 from a GGUF) as a float32 tensor."""
    return t if torch.is_tensor(t) else torch.as_tensor(np.asarray(t, np.float32))


def fit_pos(pos, g):
    """Position embeddings [1 + n*n, d] (CLS first) for a g x g grid: the learned n x n grid
    resized bicubically, so a model trained at one image size continues at another."""
    pos = as_f32(pos)
    n = math.isqrt(pos.shape[0] - 1)
    if n == g:
        return pos
    grid = pos[1:].float().reshape(1, n, n, -1).permute(0, 3, 1, 2)
    grid = nn.functional.interpolate(grid, size=(g, g), mode="bicubic", align_corners=False)
    return torch.cat([pos[:1].float(), grid.permute(0, 2, 3, 1).reshape(g * g, -1)]).to(pos.dtype)


def fit_patch(w, p):
    """A patch-embedding kernel [d, 3, n, n] for p x p patches. For p a multiple of n each
    weight is spread over the (p/n)^2 pixels it now covers, so the new patch sees what the
    old one saw of the image box-filtered by p/n (a model trained at 168 px, patch 14, starts
    at 336 px, patch 28, where it was); for n a multiple of p, blocks summed (the inverse);
    otherwise resized bilinearly and scaled by (n/p)^2."""
    w = as_f32(w)
    n = w.shape[-1]
    if n == p:
        return w
    if n % p == 0:
        return (nn.functional.avg_pool2d(w.float(), n // p) * (n // p) ** 2).to(w.dtype)
    if p % n == 0:
        out = nn.functional.interpolate(w.float(), size=(p, p), mode="nearest")
    else:
        out = nn.functional.interpolate(w.float(), size=(p, p), mode="bilinear", align_corners=False)
    return (out * (n / p) ** 2).to(w.dtype)


def fit_state(sd, c):
    """A saved state made to fit c: trained at another --img (position embeddings resized)
    or another --patch (patch kernel refitted)."""
    sd = dict(sd)
    if "vit.pos" in sd:
        sd["vit.pos"] = fit_pos(sd["vit.pos"], c["img"] // c["patch"])
    if "vit.patch.weight" in sd:
        sd["vit.patch.weight"] = fit_patch(sd["vit.patch.weight"], c["patch"])
    return sd


def load_export(d, c=None, n_words=100):
    """The inverse of export(): a TinyLlava from text.{json,bin} + mmproj.{json,bin}
    (float32 as trained), or, where d is "TEXT.gguf,MMPROJ.gguf", from the packed files
    (F16 weights widened). The grounding heads are not exported: they start fresh.
    Without c the image size is the files'; with c, c's (position embeddings resized)."""
    fixed = c is not None
    c = c or cfg_default(False)
    t = {}
    if d.endswith(".gguf"):
        for path in d.split(","):
            meta, ts = read_gguf(path)
            t.update(ts)
            c["t_layers"] = meta.get("llama.block_count", c["t_layers"])
            c["v_layers"] = meta.get("clip.vision.block_count", c["v_layers"])
            c["img"] = c["img"] if fixed else meta.get("clip.vision.image_size", c["img"])
            c["patch"] = c["patch"] if fixed else meta.get("clip.vision.patch_size", c["patch"])
    for part in ("text", "mmproj") if not t else ():
        spec = json.load(open(os.path.join(d, part + ".json")))
        raw = np.fromfile(os.path.join(d, spec["data"]), dtype="<f4")
        for e in spec["tensors"]:
            n = int(np.prod(e["ne"]))
            t[e["name"]] = raw[e["offset"]: e["offset"] + n].reshape(e["ne"][::-1])
        for k, typ, v in spec["kv"]:
            if k == "llama.block_count":
                c["t_layers"] = v
            if k == "clip.vision.block_count":
                c["v_layers"] = v
            if k == "clip.vision.image_size" and not fixed:
                c["img"] = v
            if k == "clip.vision.patch_size" and not fixed:
                c["patch"] = v
    fit_ctx(c)
    E, nh = c["t_dim"], c["t_heads"]
    hd = E // nh

    def unpermute(w):
        return w.reshape(nh, hd // 2, 2, E).swapaxes(1, 2).reshape(E, E)
    sd = {"embd": t["token_embd.weight"], "out_norm.w": t["output_norm.weight"],
          "mm0.weight": t["mm.0.weight"], "mm0.bias": t["mm.0.bias"],
          "mm2.weight": t["mm.2.weight"], "mm2.bias": t["mm.2.bias"],
          "vit.cls": t["v.class_embd"], "vit.patch.weight": fit_patch(t["v.patch_embd.weight"], c["patch"]),
          "vit.pos": fit_pos(t["v.position_embd.weight"], c["img"] // c["patch"]),
          "vit.pre_ln.weight": t["v.pre_ln.weight"], "vit.pre_ln.bias": t["v.pre_ln.bias"]}
    for i in range(c["t_layers"]):
        p, g = f"layers.{i}.", f"blk.{i}."
        sd[p + "wq.weight"] = unpermute(t[g + "attn_q.weight"])
        sd[p + "wk.weight"] = unpermute(t[g + "attn_k.weight"])
        for a, b in (("wv", "attn_v"), ("wo", "attn_output"), ("gate", "ffn_gate"), ("up", "ffn_up"),
                     ("down", "ffn_down")):
            sd[p + a + ".weight"] = t[g + b + ".weight"]
        sd[p + "attn_norm.w"] = t[g + "attn_norm.weight"]
        sd[p + "ffn_norm.w"] = t[g + "ffn_norm.weight"]
    for i in range(c["v_layers"]):
        p, g = f"vit.blocks.{i}.", f"v.blk.{i}."
        for a, b in (("q", "attn_q"), ("k", "attn_k"), ("v", "attn_v"), ("o", "attn_out"),
                     ("fc1", "ffn_down"), ("fc2", "ffn_up"), ("ln1", "ln1"), ("ln2", "ln2")):
            sd[p + a + ".weight"] = t[g + b + ".weight"]
            sd[p + a + ".bias"] = t[g + b + ".bias"]
    model = TinyLlava(c, n_words)
    missing = model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()},
                                    strict=False)
    assert not [k for k in missing.missing_keys if not k.startswith(("g_", "sym_")) and k not in ("vit.mean", "vit.std")], missing
    return model


# ------------------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gen", required=True, help="llava-eval binary, or the carried generator")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--work", default="/tmp/tiny-llava-data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="tiny-llava-procedural")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--train-images", type=int, default=48000, help="images per kind x chunks, roughly")
    ap.add_argument("--eval-n", type=int, default=400)
    ap.add_argument("--eval-seed", type=int, default=42)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--tiny", action="store_true", help="CPU smoke test: few images, few steps")
    ap.add_argument("--steps0", type=int, default=1000)
    ap.add_argument("--cap0", type=float, default=1e9)
    ap.add_argument("--lr0", type=float, default=2e-3)
    ap.add_argument("--sym-drop", type=float, default=0.1, help="stage 0: share of dense labels dropped")
    ap.add_argument("--sym-spur", type=float, default=0.0005, help="stage 0: share of spurious labels added (per token and channel)")
    ap.add_argument("--seed-circuit", type=int, default=1,
                    help="stage 0: start the first decoder layer looking at the question's words and the object rows")
    ap.add_argument("--ckpt-in", help="model.pt files of earlier runs, comma separated, loaded in order; "
                    "PATH=P1|P2 loads only the tensors whose names start with P1 or P2")
    ap.add_argument("--no-eval", action="store_true", help="save model.pt only")
    ap.add_argument("--ckpt-every", type=int, default=100,
                    help="save OUT/resume.pt every N steps (0: never); a rerun with the same "
                         "arguments goes on from it")
    ap.add_argument("--steps1", type=int, default=3000)
    ap.add_argument("--steps2", type=int, default=2500)
    ap.add_argument("--steps3", type=int, default=3000)
    ap.add_argument("--cap1", type=float, default=100)
    ap.add_argument("--cap2", type=float, default=90)
    ap.add_argument("--cap3", type=float, default=110, help="seconds for stage 3, and for stage 4")
    ap.add_argument("--bs1", type=int, default=256)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr1", type=float, default=1e-3)
    ap.add_argument("--lr2", type=float, default=1e-3)
    ap.add_argument("--lr3", type=float, default=3e-4)
    ap.add_argument("--steps4", type=int, default=1000)
    ap.add_argument("--lr4", type=float, default=2e-4, help="stage 4: projector and decoder")
    ap.add_argument("--vit-scale4", type=float, default=1.0, help="stage 4: encoder and grounding heads' lr, times --lr4")
    ap.add_argument("--bs4-dense", type=int, default=32, help="stage 4: crowded scenes a step (grounding losses)")
    ap.add_argument("--g4", type=float, default=1.0, help="stage 4: weight of the grounding losses")
    ap.add_argument("--neg-same-colour", type=float, default=0.0,
                    help="stages 0, 3, 4: share of 'no' probes asking a present colour in an absent shape")
    ap.add_argument("--g4-probe", type=float, default=0.0,
                    help="stage 4: weight of the grounding losses on the probe images themselves")
    ap.add_argument("--log-every", type=int, default=250)
    ap.add_argument("--stages", default="0123", help="which stages to run")
    ap.add_argument("--kinds", default=",".join(KINDS), help="suites to train on")
    ap.add_argument("--init", help="start from an export folder (text/mmproj .json + .bin), or from "
                    "packed files: TEXT-F16.gguf,MMPROJ.gguf (the committed model)")
    ap.add_argument("--img", type=int, default=112,
                    help="native image size (a multiple of --patch); a checkpoint of another size has its "
                         "position embeddings resized")
    ap.add_argument("--patch", type=int, default=14,
                    help="patch size in px; a checkpoint of another patch size has its kernel spread (fit_patch)")
    ap.add_argument("--seed0", type=int, default=1000, help="first training-suite seed")
    ap.add_argument("--augment", action="store_true",
                    help="fresh pixel noise and a small shift per training view (against memorization)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: its default)")
    ap.add_argument("--text-share", type=float, default=0.45,
                    help="stage 2: share of word-reading probes (0: yes/no object probes only)")
    ap.add_argument("--dense", type=int, default=0,
                    help="stages 1 and 4: this many crowded grounding scenes from --dense-bin (dense_main.c)")
    ap.add_argument("--dense-bin", default="/tmp/dense")
    ap.add_argument("--dense-seed", type=int, default=5000)
    ap.add_argument("--dense-share", type=float, default=0.75, help="stage 1: share of each batch from them")
    ap.add_argument("--factor", type=float, default=0.0,
                    help="stages 1 and 4: weight of the per-token shape and colour softmax losses")
    ap.add_argument("--copy", type=float, default=0.0,
                    help="stages 3 and 4: weight of the loss that makes a text image's ink rows name the answer's first token")
    ap.add_argument("--read", type=float, default=0.0,
                    help="stages 1 and 4: weight of the per-token reading losses (word and letter on ink tokens)")
    ap.add_argument("--bs-read", type=int, default=0,
                    help="stages 1 and 4: text images a step added for the reading losses")
    ap.add_argument("--read-min", type=int, default=16, help="their smallest capital height, px")
    ap.add_argument("--small-w", type=float, default=1.0,
                    help="stages 1 and 4: weight of the tokens of 4-12 px objects in the per-token shape and colour losses")
    ap.add_argument("--heads-only", action="store_true",
                    help="stage 1: the encoder frozen, only the grounding heads learn (fresh heads of an --init "
                    "from GGUF files, which carry none, before the encoder moves under them)")
    ap.add_argument("--tune-top", type=int, default=0,
                    help="stage 3: the encoder's last K blocks learn too, on the cached output of the ones below "
                    "(lr --vit-scale4 times the schedule's, their grounding losses at --g4-probe)")
    ap.add_argument("--bce", type=float, default=1.0,
                    help="stages 1 and 4: weight of the binary presence and dense losses and the word and count heads")
    a = ap.parse_args()
    FACTOR["w"], FACTOR["bce"], FACTOR["read"], FACTOR["small"] = a.factor, a.bce, a.read, a.small_w
    if a.threads:
        torch.set_num_threads(a.threads)
    a.kinds = a.kinds.split(",")
    AUGMENT["on"] = a.augment
    if a.tiny:
        a.steps0, a.steps1, a.steps2, a.steps3, a.steps4, a.bs1, a.bs, a.log_every = 6, 6, 6, 6, 6, 8, 4, 2
        a.train_images, a.eval_n = 64, 16

    os.makedirs(a.out, exist_ok=True)
    logf = open(os.path.join(a.out, "train.log"), "a")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cpu" and use_onednn_linear():
        log("nn.Linear through oneDNN (torch's own BLAS is the generic fallback)")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log(f"device {dev} torch {torch.__version__} args {vars(a)}")
    tokens = json.load(open(a.tokens))
    c = cfg_default(a.tiny)
    if a.ckpt_every < 0:
        sys.exit(f"--ckpt-every {a.ckpt_every}: not 0 or a positive number of steps")
    if a.patch < 1 or a.img < a.patch or a.img % a.patch:
        sys.exit(f"--img {a.img}: not a positive multiple of the patch size {a.patch}")
    c["img"], c["patch"] = a.img, a.patch
    if not 0 <= a.tune_top <= c["v_layers"]:
        sys.exit(f"--tune-top {a.tune_top}: not 0 to the encoder's {c['v_layers']} blocks")
    if a.tune_top and ("2" in a.stages or "3" not in a.stages):
        sys.exit("--tune-top: a stage-3 flag, and stage 2 regresses on the encoder's output: run stage 3 alone")
    fit_ctx(c)

    t0 = time.time()
    per = max(1, a.train_images // 4)
    chunk = min(500, per)
    nch = max(1, per // chunk)
    # object-size has two probes per image, so ask for twice the samples
    plan = {"object-size": (nch, 2 * chunk), "text-size": (nch, chunk),
            "count": (nch, chunk), "position": (nch, chunk)}
    plan = {k: v for k, v in plan.items() if k in a.kinds}
    os.makedirs(a.work, exist_ok=True)
    dirs = make_suites(a.gen, os.path.join(a.work, "train"), a.seed0, plan, a.jobs)
    edirs = make_suites(a.gen, os.path.join(a.work, "eval"), a.eval_seed,
                        {k: (1, a.eval_n) for k in a.kinds}, a.jobs)
    log(f"suites generated in {time.time() - t0:.0f}s")
    with Pool(a.jobs) as pool:
        data = Data(dirs, tokens, c["img"], pool, patch=c["patch"])
        evals = {"native": Data(edirs, tokens, c["img"], pool, patch=c["patch"])}
        for r in (84, 56, 28):
            evals[str(r)] = Data(edirs, tokens, c["img"], pool, reduce_to=r, patch=c["patch"])
    log(f"data: {len(data.images)} train images, {len(data.samples)} probes; "
        f"eval {len(evals['native'].samples)} probes; loaded in {time.time() - t0:.0f}s")

    if a.dense:
        add_dense(data, a.dense_bin, a.work, a.dense, a.dense_seed, c["img"], a.jobs, patch=c["patch"])
        log(f"{a.dense} dense scenes added in {time.time() - t0:.0f}s")
    model = (load_export(a.init, c) if a.init else TinyLlava(c, len(tokens["words"]))).to(dev)
    if a.ckpt_in:   # the state a previous run saved (stages can run as separate processes)
        for item in a.ckpt_in.split(","):
            path, _, only = item.partition("=")
            sd = torch.load(path, map_location=dev)
            own = model.state_dict()
            keep = fit_state({k: v for k, v in sd.items()
                              if k in own and (not only or k.startswith(tuple(only.split("|"))))}, c)
            model.load_state_dict(keep, strict=False)
            log(f"loaded {len(keep)} tensors from {path}")
    log(f"params: vit {sum(p.numel() for p in model.vit.parameters())}, "
        f"text {sum(p.numel() for n, p in model.named_parameters() if not n.startswith(('vit', 'g_', 'mm')))}")
    try:
        train(model, data, tokens, a, dev, log, evals["native"])
    except Exception as e:   # logged; without checkpoints, what was learned is kept
        log(f"training stopped: {e!r}")
        if a.ckpt_every:   # no model.pt of a half-run stage that train.sh would take as done
            kept = os.path.exists(resume_path(a))
            sys.exit(f"training stopped: {e!r}; " + ("resume.pt kept: run again to go on from it"
                                                      if kept else "no checkpoint yet: run again"))

    torch.save(model.state_dict(), os.path.join(a.out, "model.pt"))
    if os.path.exists(resume_path(a)):   # model.pt supersedes it
        os.remove(resume_path(a))
    if a.no_eval:
        log("saved model.pt (no export or evaluation asked)")
        return
    export(model, c, a.out, a.name)
    log("exported")
    summary = {}
    for r, d in evals.items():
        res = evaluate(model, d, tokens, dev)
        summary[r] = summarize(res)
        log(f"eval {r}: " + json.dumps({k: round(v['acc'], 3) for k, v in summary[r].items()}))
    summary["native"]["text-size"]["acc_detail_ge32"] = summary["native"].get("text-size", {}).get("acc_detail_ge32")
    with open(os.path.join(a.out, "eval_torch.json"), "w") as f:
        json.dump(dict(config=c, args=vars(a), eval=summary), f, indent=1)
    log(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
