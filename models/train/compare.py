#!/usr/bin/env python3
"""models/train/compare.py — our C engine and PyTorch on the same trained model.

For a few samples of a suite, runs `llava-eval generate --json` with the dumps
(preprocessed pixels, image rows, logits at the last prompt position) and the
PyTorch model of train.py loaded from the same export (weights rounded to F16
where the GGUF stores F16), then prints the differences next to the fidelity
tolerances of llava-gguf.md ("F16: logits within ~0.15, image embedding within
~1e-2, preprocessing exact") and exits 1 when one is exceeded.

usage: compare.py --bin ./llava-eval --export DIR --text text.gguf --mmproj mmproj.gguf
                  --suite SUITE_DIR --tokens tokens.json [--n 4]
--export may also be "TEXT-F16.gguf,MMPROJ.gguf" (train.py's read_gguf): PyTorch then
runs the packed weights themselves, e.g. the committed model with no export folder.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402


def round_f16(model, export_dir):
    """Rounds every parameter the GGUF stores as F16 (all 2-D+ weights but class_embd)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(p.half().float())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="./llava-eval")
    ap.add_argument("--export", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--mmproj", required=True)
    ap.add_argument("--suite", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--tol-logits", type=float, default=0.15)
    ap.add_argument("--tol-embd", type=float, default=1e-2)
    a = ap.parse_args()

    torch.set_num_threads(2)
    tokens = json.load(open(a.tokens))
    model = T.load_export(a.export)
    round_f16(model, a.export)
    model.eval()
    info = json.load(open(os.path.join(a.suite, "suite.json")))
    samples = [json.loads(l) for l in open(os.path.join(a.suite, "samples.jsonl"))][: a.n]
    worst = dict(pixels=0.0, embd=0.0, logits=0.0)
    agree = 0
    with tempfile.TemporaryDirectory() as tmp:
        for s in samples:
            img = os.path.join(a.suite, s["image"])
            prompt = info["prompt"].replace("{question}", s["question"])
            f = {k: os.path.join(tmp, k + ".f32") for k in ("pix", "embd", "logits")}
            out = subprocess.run([a.bin, "generate", "-m", a.text, "--mmproj", a.mmproj, "--image", img,
                                  "-p", prompt, "-n", "1", "-t", "2", "--json",
                                  "--dump-image-tensor", f["pix"], "--dump-image-embd", f["embd"],
                                  "--dump-logits", f["logits"]], capture_output=True, check=True)
            eng = json.loads(out.stdout)
            e_pix = np.fromfile(f["pix"], "<f4")
            e_embd = np.fromfile(f["embd"], "<f4")
            e_logits = np.fromfile(f["logits"], "<f4")

            u8 = T.load_image((img, model.c["img"], 0))
            x = torch.from_numpy(u8[None])
            with torch.no_grad():
                pix = ((x.permute(0, 3, 1, 2).float() / 255.0 - model.vit.mean) / model.vit.std)
                emb = model.project(model.vit(x))
                user = tokens["user"][s["question"]]
                xin, _ = T.build_batch(model, tokens["system"], emb, [user], [[0]], torch.device("cpu"))
                # the engine's prompt ids must be ours
                want = tokens["system"] + [-1] * emb.shape[1] + user
                assert eng["prompt_ids"] == want, "prompt tokens differ from training"
                h = model.decode(xin)
                logits = model.logits(h[0, -1]).numpy()
            d_pix = float(np.abs(pix[0].permute(1, 2, 0).reshape(-1).numpy() - e_pix).max())
            d_embd = float(np.abs(emb[0].reshape(-1).numpy() - e_embd).max())
            d_log = float(np.abs(logits - e_logits).max())
            top_t, top_e = int(logits.argmax()), int(e_logits.argmax())
            agree += top_t == top_e
            for k, v in (("pixels", d_pix), ("embd", d_embd), ("logits", d_log)):
                worst[k] = max(worst[k], v)
            print(f"{s['id']:>12}  pixels {d_pix:.2e}  image rows {d_embd:.2e} (max |x| "
                  f"{float(emb.abs().max()):.2f})  logits {d_log:.4f} (std {logits.std():.2f})  "
                  f"argmax torch {top_t} engine {top_e}")
    ok = worst["pixels"] <= 1e-6 and worst["embd"] <= a.tol_embd and worst["logits"] <= a.tol_logits
    print(json.dumps(dict(samples=len(samples), argmax_agree=agree, max_abs_diff=worst,
                          tolerances=dict(pixels=1e-6, embd=a.tol_embd, logits=a.tol_logits), ok=ok)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
