#!/usr/bin/python3
"""What the vision encoder itself sees of each object size: the per-token shape head of a
train.py model.pt (grounding heads included, so a stage's model.pt, not a GGUF file) on an
object-size suite's images, as the share of tokens showing exactly one object whose shape
it names right, by the suite's `detail_px`, at each input size asked (the position
embeddings resized bicubically as train.py does when a model continues at another size).
Six shapes and "none": one in seven by chance.

usage: models/train/shape_by_size.py --model OUT/model.pt --suite SUITE_DIR --tokens tokens.json
       [--img 224,336] [--threads 2]"""
import argparse
import json
import os
import sys
from multiprocessing import Pool

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--suite", required=True, help="an object-size suite folder (suite make object-size)")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--img", default="224,336", help="input sizes, multiples of 14")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tokens = json.load(open(a.tokens))
    sd = torch.load(a.model, map_location="cpu")
    if not any(k.startswith("g_shape.") for k in sd):
        sys.exit(f"{a.model}: no shape head (g_shape): a GGUF export drops it; use a stage's model.pt")
    for img in (int(x) for x in a.img.split(",")):
        if img < 14 or img % 14:
            sys.exit(f"--img {img}: not a positive multiple of 14")
        c = T.cfg_default(False)
        c["img"] = img
        T.fit_ctx(c)
        with Pool(a.threads) as pool:
            d = T.Data([("object-size", a.suite)], tokens, img, pool, patch=14)
        m = T.TinyLlava(c, len(tokens["words"]))
        own = m.state_dict()
        m.load_state_dict(T.fit_state({k: v for k, v in sd.items() if k in own}, c), strict=False)
        m.eval()
        with torch.no_grad():
            f = T.vit_features(m, d, torch.device("cpu")).float()
            shp = torch.cat([m.g_shape(f[i:i + 256]).argmax(-1) for i in range(0, len(f), 256)])
        label, one = T.token_shapes(d)
        right = shp == label
        det = T.image_detail(d)
        row = {}
        for px in sorted(set(det.tolist())):
            sel = torch.from_numpy(det == px)[:, None] & one
            row[int(px)] = {"acc": round(right[sel].float().mean().item(), 3), "tokens": int(sel.sum())}
        print(json.dumps({"img": img, "shape_tokens_by_px": row}), flush=True)


if __name__ == "__main__":
    main()
