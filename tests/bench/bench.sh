#!/bin/sh
# tests/bench/bench.sh — `make bench`: llava-eval bench and (if LLAMA_CPP_BIN names a
# llama.cpp build's bin folder) llama-bench on the same synthetic files, interleaved
# round by round, then the ratios ours / llama.cpp (tokens/s: > 1 is faster).
#
#   BENCH_TYPES   model types (default "Q4_0 Q8_0 Q4_K_M F16")
#   BENCH_SHAPE   synth shape (default tinyllama-1.1b)
#   BENCH_DIR     where the synthetic files are kept (default /tmp/llava-eval-bench)
#   BENCH_THREADS threads (default 2); BENCH_ROUNDS rounds (default 2); BENCH_R reps (3)
#   BENCH_P, BENCH_N  prompt and generated tokens (576, 32)
#   BENCH_OUT     JSON written at the end (default tests/bench/last.json)
#   BENCH_CLIP    1 (default): also one CLIP ViT-L/14-336 image encode per round, ours
#                 (bench --mmproj) against llama-llava-cli's "image encoded in"
set -e
BIN=${LLAVA_EVAL_BIN:-./llava-eval}
TYPES=${BENCH_TYPES:-"Q4_0 Q8_0 Q4_K_M F16"}
SHAPE=${BENCH_SHAPE:-tinyllama-1.1b}
DIR=${BENCH_DIR:-/tmp/llava-eval-bench}
T=${BENCH_THREADS:-2}; ROUNDS=${BENCH_ROUNDS:-2}; R=${BENCH_R:-3}
P=${BENCH_P:-576}; N=${BENCH_N:-32}
OUT=${BENCH_OUT:-tests/bench/last.json}
mkdir -p "$DIR"
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT

for ty in $TYPES; do
  f="$DIR/$SHAPE-$ty.gguf"
  [ -f "$f" ] || "$BIN" model synth --shape "$SHAPE" --type "$ty" -o "$f"
done
CLIP=${BENCH_CLIP:-1}
if [ "$CLIP" = 1 ]; then
  first=$(echo $TYPES | cut -d' ' -f1)
  text="$DIR/$SHAPE-$first.gguf"
  embd=$("$BIN" info "$text" | sed -n 's/^llama.embedding_length *u32 *//p')
  mm="$DIR/clip-vit-l-336-$embd.gguf"
  [ -f "$mm" ] || "$BIN" model synth --shape clip-vit-l-336 --n-embd "$embd" -o "$mm"
  img="$DIR/noise336.ppm"
  [ -f "$img" ] || { printf 'P6\n336 336\n255\n'; head -c 338688 /dev/urandom; } > "$img"
fi

# one line per measurement: engine type round pp_tps tg_tps (encode: ms in both columns)
for round in $(seq 1 "$ROUNDS"); do
  if [ "$CLIP" = 1 ]; then
    j=$("$BIN" bench -m "$text" --mmproj "$mm" -p 0 -n 0 -t "$T" -r 1 --json)
    e=$(echo "$j" | sed -n 's/.*"encode_ms": {"mean": \([0-9.]*\).*/\1/p')
    echo "ours encode $round $e $e" | tee -a "$tmp"
    if [ -n "$LLAMA_CPP_BIN" ]; then
      le=$("$LLAMA_CPP_BIN/llama-llava-cli" -m "$text" --mmproj "$mm" --image "$img" -p x -n 1 -t "$T" --temp 0 2>&1 |
           sed -n 's/.*image encoded in *\([0-9.]*\) ms.*/\1/p')
      echo "llama.cpp encode $round $le $le" | tee -a "$tmp"
    fi
  fi
  for ty in $TYPES; do
    f="$DIR/$SHAPE-$ty.gguf"
    j=$("$BIN" bench -m "$f" -p "$P" -n "$N" -t "$T" -r "$R" --json)
    pp=$(echo "$j" | sed -n 's/.*"pp": {[^}]*"tps_mean": \([0-9.]*\).*/\1/p')
    tg=$(echo "$j" | sed -n 's/.*"tg": {[^}]*"tps_mean": \([0-9.]*\).*/\1/p')
    echo "ours $ty $round $pp $tg" | tee -a "$tmp"
    if [ -n "$LLAMA_CPP_BIN" ]; then
      lj=$("$LLAMA_CPP_BIN/llama-bench" -m "$f" -p "$P" -n "$N" -t "$T" -r "$R" -o jsonl 2>/dev/null)
      lpp=$(echo "$lj" | grep "\"n_prompt\": $P, \"n_gen\": 0" | sed -n 's/.*"avg_ts": \([0-9.e+]*\).*/\1/p')
      ltg=$(echo "$lj" | grep "\"n_prompt\": 0, \"n_gen\": $N" | sed -n 's/.*"avg_ts": \([0-9.e+]*\).*/\1/p')
      echo "llama.cpp $ty $round $lpp $ltg" | tee -a "$tmp"
    fi
  done
done

echo
echo "| type | ours pp$P | llama.cpp pp$P | ratio | ours tg$N | llama.cpp tg$N | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk -v P="$P" -v N="$N" -v T="$T" -v out="$OUT" -v shape="$SHAPE" '
  { k = $1 SUBSEP $2; pp[k] += $4; tg[k] += $5; n[k]++; if (!($2 in seen)) { seen[$2] = 1; order[++nt] = $2 } }
  END {
    printf "{\"shape\": \"%s\", \"threads\": %d, \"n_prompt\": %d, \"n_gen\": %d, \"results\": [", shape, T, P, N > out
    for (i = 1; i <= nt; i++) {
      ty = order[i]; o = "ours" SUBSEP ty; l = "llama.cpp" SUBSEP ty
      op = pp[o] / n[o]; ot = tg[o] / n[o]
      if (ty == "encode") {
        if (n[l]) { lp = pp[l] / n[l]; printf "| encode (ms, lower is better) | %.0f | %.0f | %.2f | | | |\n", op, lp, op / lp
          printf "%s\n  {\"type\": \"clip-encode\", \"ours_ms\": %.1f, \"llamacpp_ms\": %.1f, \"time_ratio\": %.3f}", (i > 1 ? "," : ""), op, lp, op / lp > out }
        else { printf "| encode (ms) | %.0f | - | - | | | |\n", op
          printf "%s\n  {\"type\": \"clip-encode\", \"ours_ms\": %.1f}", (i > 1 ? "," : ""), op > out }
        continue
      }
      if (n[l]) { lp = pp[l] / n[l]; lt = tg[l] / n[l]; rp = lp > 0 ? op / lp : 0; rt = lt > 0 ? ot / lt : 0
        printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", ty, op, lp, rp, ot, lt, rt
        printf "%s\n  {\"type\": \"%s\", \"ours_pp_tps\": %.3f, \"ours_tg_tps\": %.3f, \"llamacpp_pp_tps\": %.3f, \"llamacpp_tg_tps\": %.3f, \"pp_ratio\": %.3f, \"tg_ratio\": %.3f}", (i > 1 ? "," : ""), ty, op, ot, lp, lt, rp, rt > out
      } else {
        printf "| %s | %.2f | - | - | %.2f | - | - |\n", ty, op, ot
        printf "%s\n  {\"type\": \"%s\", \"ours_pp_tps\": %.3f, \"ours_tg_tps\": %.3f}", (i > 1 ? "," : ""), ty, op, ot > out
      }
    }
    printf "\n]}\n" > out
  }' "$tmp"
echo "(written to $OUT)"
