#!/bin/sh
# models/train/train.sh — the committed demo model from scratch, on the CPU (about
# 75 minutes on two cores; see README.md here): token table, 48,000 procedural training
# images (seeds 1000-1047, never 42 or 2024), the staged training with the committed
# schedule, then the four GGUF files. Deterministic for a given torch build and thread
# count; the stages run as separate processes that hand over model.pt files.
# usage: models/train/train.sh [WORK]   (WORK default /tmp/tiny-llava-train)
set -eu
W=${1:-/tmp/tiny-llava-train}
PY=${PY:-/usr/bin/python3}   # Debian's python3 with python3-torch, python3-numpy, python3-pil
BIN=${BIN:-./llava-eval}
T="$PY models/train/train.py --gen $BIN --tokens $W/tokens.json --work $W/data \
    --kinds object-size,text-size --threads 2 --jobs 2 --train-images 96000 --eval-n 400"
mkdir -p "$W"
[ -f "$W/tokens.json" ] || $PY models/train/prep.py --bin "$BIN" -o "$W/tokens.json"
# stage 0: the decoder on symbolic image rows (seeded comparator, see seed_circuit)
[ -f "$W/s0/model.pt" ] || $T --out "$W/s0" --stages 0 --steps0 600 --bs 64 --lr0 1e-3 \
    --text-share 0.3 --log-every 25 --no-eval
# stage 1: the vision encoder on dense grounding labels
[ -f "$W/s1/model.pt" ] || $T --out "$W/s1" --stages 1 --steps1 1000 --bs1 128 --lr1 3e-3 \
    --cap1 1e9 --augment --log-every 100 --no-eval
# stages 2-3: projector aligned to the symbolic rows, then projector + decoder on the
# encoder's real features; export and PyTorch evaluation at four resolutions
$T --out "$W/out" --stages 23 --ckpt-in "$W/s0/model.pt=embd|layers.|out_norm.|sym_,$W/s1/model.pt=vit.|g_" \
    --steps2 2000 --lr2 3e-3 --steps3 300 --bs 64 --lr3 3e-4 --text-share 0.3 \
    --cap2 1e9 --cap3 1e9 --log-every 25
models/train/pack.sh "$W/out" "${PREFIX:-$W/tiny-llava-procedural}"
