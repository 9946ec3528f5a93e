#!/bin/sh
# models/train/train.sh — the committed demo model from scratch, on the CPU (about
# 80 minutes on two cores; see README.md here): token table, 48,000 procedural training
# images (seeds 1000-1047, never 42), the staged training with the committed schedule,
# then the four GGUF files and the engine evaluation. Deterministic for a given torch
# build and thread count.
# usage: models/train/train.sh [WORK]   (WORK default /tmp/tiny-llava-train)
set -eu
W=${1:-/tmp/tiny-llava-train}
PY=${PY:-/usr/bin/python3}   # Debian's python3 with python3-torch, python3-numpy, python3-pil
BIN=${BIN:-./llava-eval}
mkdir -p "$W"
[ -f "$W/tokens.json" ] || $PY models/train/prep.py --bin "$BIN" -o "$W/tokens.json"
$PY models/train/train.py --gen "$BIN" --tokens "$W/tokens.json" --work "$W/data" --out "$W/out" \
    --kinds object-size,text-size --threads 2 --jobs 2 --train-images 96000 --eval-n 400 \
    --bs1 128 --bs 64 --lr1 3e-3 --steps1 1000 --steps2 1000 --steps3 0 --cap1 1e9 --cap2 1e9 --cap3 1e9 \
    --lr2 2e-3 --augment --log-every 100
models/train/pack.sh "$W/out" "${PREFIX:-$W/tiny-llava-procedural}"
