#!/bin/sh
# The README's demo: two procedural suites — object-size (shapes from 4 to 96 px,
# POPE-style yes/no probes with random, popular and adversarial negatives) and
# text-size (one word, capitals from 6 to 64 px) — through the tiny LLaVA trained on
# such suites (models/tiny-llava-procedural-*, see models/README.md) at four input
# resolutions and three precisions (F16, Q8_0, Q4_0). Every answer goes to
# demo/results.db, then the HTML report demo/report.html. No download.
set -eu
cd "$(dirname "$0")"
BIN=./llava-eval
P=models/tiny-llava-procedural
# MODEL=… MMPROJ=… runs another pair (then QUANTS=q8_0,… re-quantizes it, default none)
MODEL=${MODEL:-}
MMPROJ=${MMPROJ:-$P-mmproj.gguf}
if [ -n "$MODEL" ]; then QUANTS=${QUANTS:-}; else QUANTS=$P-text-F16.gguf,$P-text-Q8_0.gguf,$P-text-Q4_0.gguf; fi
RES=${RES:-native,84,56,28}
mkdir -p demo
[ -f demo/object-size/suite.json ] || $BIN suite make object-size -o demo/object-size --n 200 --seed 2024
[ -f demo/text-size/suite.json ] || $BIN suite make text-size -o demo/text-size --n 48 --seed 2024
for s in object-size text-size; do
    $BIN run --suite demo/$s ${MODEL:+-m "$MODEL"} --mmproj "$MMPROJ" ${QUANTS:+--quants "$QUANTS"} \
        --db demo/results.db --name "demo-$s" --resolutions "$RES" -n 8
done
$BIN report --db demo/results.db -o demo/report.html
echo "open demo/report.html"
