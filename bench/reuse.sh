#!/bin/sh
# Per-image prefix reuse against the naive per-question path, in one script run:
# the same object-size suite through `run` twice (fresh stores), then the speed-up.
# Usage: bench/reuse.sh [MODEL.gguf MMPROJ.gguf] [N_IMAGES]
set -eu
BIN=${LLAVA_EVAL_BIN:-./llava-eval}
MODEL=${1:-${LLAVA_EVAL_FIXTURES:-../shared/fixtures}/tiny-llava/text-Q4_0.gguf}
MMPROJ=${2:-${LLAVA_EVAL_FIXTURES:-../shared/fixtures}/tiny-llava/mmproj.gguf}
N=${3:-24}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BIN" suite make object-size -o "$T/suite" --n "$N" --seed 99 >/dev/null
now() { date +%s.%N; }
run() { "$BIN" run -q --suite "$T/suite" -m "$MODEL" --mmproj "$MMPROJ" --db "$T/$1.db" -n 8 -t "${THREADS:-2}" $2; }
t0=$(now); run reuse "";           t1=$(now)
run naive "--no-reuse";            t2=$(now)
rows=$(sqlite3 "$T/reuse.db" "select count(*) from results")
same=$(sqlite3 "$T/reuse.db" "attach '$T/naive.db' as n; select count(*) from results r join n.results x using(sample_id, resolution, quant) where r.output is x.output")
awk -v a="$t0" -v b="$t1" -v c="$t2" -v rows="$rows" -v same="$same" 'BEGIN {
  r = b - a; n = c - b;
  printf "rows %d, identical outputs %d\n", rows, same;
  printf "reuse  %.2f s (%.3f s/question)\nnaive  %.2f s (%.3f s/question)\nspeed-up %.2fx\n", r, r / rows, n, n / rows, n / r }'
