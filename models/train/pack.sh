#!/bin/sh
# models/train/pack.sh — an export folder of train.py (text/mmproj .json + .bin) to the
# four committed files: PREFIX-text-F16.gguf, PREFIX-text-Q8_0.gguf, PREFIX-text-Q4_0.gguf
# and PREFIX-mmproj.gguf, written by our own GGUF writer (`llava-eval model pack`) and
# quantizer. usage: models/train/pack.sh EXPORT_DIR [PREFIX]
set -eu
D=$1
P=${2:-models/tiny-llava-procedural}
BIN=${BIN:-./llava-eval}
VOCAB=${VOCAB:-tests/data/vocab/ggml-vocab-llama-spm.gguf}
$BIN model pack "$D/text.json" "$P-text-F16.gguf" --vocab "$VOCAB"
$BIN model pack "$D/mmproj.json" "$P-mmproj.gguf"
$BIN quantize "$P-text-F16.gguf" "$P-text-Q8_0.gguf" Q8_0
$BIN quantize "$P-text-F16.gguf" "$P-text-Q4_0.gguf" Q4_0
ls -l "$P"-*.gguf
