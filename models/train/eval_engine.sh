#!/bin/sh
# models/train/eval_engine.sh — accuracy of the trained model with OUR engine, on suites
# made with a seed never used in training (42; training uses 1000+ and 5000+):
#   object-size (balanced yes/no probes) and text-size (word reading) at native, 112,
#   84, 56 and 28 px longer side with the F16 file, then object-size at native with Q8_0 and
#   Q4_0 and the F16 -> Q4_0 comparison (accuracy deltas, KLD of the answer tokens).
# usage: [SEED=S] models/train/eval_engine.sh [PREFIX] [N]   (PREFIX default models/tiny-llava-procedural)
# SEED (default 42): another seed never used in training (not 1000-1047 or 5000-5029; 2024 is
# the demo's). N: probes a suite; judge a candidate on a few thousand (seed 42's 200
# flattered the committed model by about 3 points).
set -eu
P=${1:-models/tiny-llava-procedural}
N=${2:-200}
BIN=${BIN:-./llava-eval}
SEED=${SEED:-42}
case $SEED in *[!0-9]*|'') echo "SEED: not a number" >&2; exit 2;; esac
W=${W:-eval-tiny-llava-$SEED-$N}
T=${T:-2}
mkdir -p "$W"
[ -f "$W/object-size/suite.json" ] || $BIN suite make object-size -o "$W/object-size" --n "$N" --seed "$SEED"
[ -f "$W/text-size/suite.json" ] || $BIN suite make text-size -o "$W/text-size" --n "$N" --seed "$SEED"
for s in object-size text-size; do
    $BIN run --suite "$W/$s" -m "$P-text-F16.gguf" --mmproj "$P-mmproj.gguf" --db "$W/results.db" \
        --name "f16-$s" --resolutions native,112,84,56,28 -n 8 -t "$T" -q
done
for q in Q8_0 Q4_0; do
    $BIN run --suite "$W/object-size" -m "$P-text-$q.gguf" --mmproj "$P-mmproj.gguf" --db "$W/results.db" \
        --name "$q-object-size" --resolutions native -n 8 -t "$T" -q
done
$BIN export --db "$W/results.db" --format jsonl | python3 -c '
import json, sys
acc = {}
for line in sys.stdin:
    r = json.loads(line)
    if r["status"] != "ok":
        continue
    res = r["resolution"] or "native"
    for key in ((r["run"], res, "all"),) + (((r["run"], res, "detail>=32"),) if r["meta"]["detail_px"] >= 32 else ()):
        acc.setdefault(key, []).append(r["correct"])
for (run, res, part), v in sorted(acc.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2])):
    print(f"{run:<20} {str(res):>6} {part:<11} n={len(v):<4} accuracy {100 * sum(v) / len(v):5.1f}%")
'
$BIN compare --db "$W/results.db" f16-object-size Q4_0-object-size || true
$BIN report --db "$W/results.db" -o "$W/report.html"
echo "report: $W/report.html"
