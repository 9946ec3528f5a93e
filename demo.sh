#!/bin/sh
# The README's demo: a procedural object-size suite (shapes from 4 to 96 px, POPE-style
# yes/no probes) at three input resolutions through the model in models/, every
# answer in demo/results.db, then the HTML report demo/report.html. No download.
set -eu
cd "$(dirname "$0")"
BIN=./llava-eval
MODEL=${MODEL:-models/tiny-random-text-Q4_0.gguf}
MMPROJ=${MMPROJ:-models/tiny-random-mmproj.gguf}
QUANTS=${QUANTS:-}
mkdir -p demo
[ -f demo/suite/suite.json ] || $BIN suite make object-size -o demo/suite --n 48 --seed 2024
$BIN run --suite demo/suite -m "$MODEL" --mmproj "$MMPROJ" ${QUANTS:+--quants "$QUANTS"} \
    --db demo/results.db --name demo --resolutions 56,112,native -n 8
$BIN report --db demo/results.db -o demo/report.html
echo "open demo/report.html"
