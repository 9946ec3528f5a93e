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

# one line per measurement: engine type round mode value (mode pp/tg: tokens/s; enc: ms)
for round in $(seq 1 "$ROUNDS"); do
  if [ "$CLIP" = 1 ]; then
    j=$("$BIN" bench -m "$text" --mmproj "$mm" -p 0 -n 0 -t "$T" -r 1 --json)
    e=$(echo "$j" | sed -n 's/.*"encode_ms": {"mean": \([0-9.]*\).*/\1/p')
    echo "ours encode $round enc $e" | tee -a "$tmp"
    if [ -n "$LLAMA_CPP_BIN" ]; then
      le=$("$LLAMA_CPP_BIN/llama-llava-cli" -m "$text" --mmproj "$mm" --image "$img" -p x -n 1 -t "$T" --temp 0 2>&1 |
           sed -n 's/.*image encoded in *\([0-9.]*\) ms.*/\1/p')
      echo "llama.cpp encode $round enc $le" | tee -a "$tmp"
    fi
  fi
  for ty in $TYPES; do
    f="$DIR/$SHAPE-$ty.gguf"
    # prefill and decode in separate runs, so each pair of measurements lies close in
    # time; who goes first alternates by round, so a drift in the host's speed does not
    # favour one side
    for mode in pp tg; do
      if [ $mode = pp ]; then a="-p $P -n 0"; else a="-p 0 -n $N"; fi
      for side in $( [ $((round % 2)) = 1 ] && echo "ours llama" || echo "llama ours"); do
        if [ $side = ours ]; then
          j=$("$BIN" bench -m "$f" $a -t "$T" -r "$R" --json)
          v=$(echo "$j" | sed -n 's/.*"'$mode'": {[^}]*"tps_mean": \([0-9.]*\).*/\1/p')
          echo "ours $ty $round $mode $v" | tee -a "$tmp"
        elif [ -n "$LLAMA_CPP_BIN" ]; then
          lj=$("$LLAMA_CPP_BIN/llama-bench" -m "$f" $a -t "$T" -r "$R" -o jsonl 2>/dev/null)
          v=$(echo "$lj" | sed -n 's/.*"avg_ts": \([0-9.e+]*\).*/\1/p' | head -1)
          echo "llama.cpp $ty $round $mode $v" | tee -a "$tmp"
        fi
      done
    done
  done
done

echo
echo "ratio = mean of ours / mean of llama.cpp over the rounds; in brackets the median and range of the per-round ratios"
echo
echo "| type | ours pp$P | llama.cpp pp$P | ratio | ours tg$N | llama.cpp tg$N | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk -v P="$P" -v N="$N" -v T="$T" -v out="$OUT" -v shape="$SHAPE" '
  function med(a, n,   i, j, t, b) {   # median of a[1..n] (sorted copy)
    for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
    lo = b[1]; hi = b[n]
    return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
  }
  # ratios of one type and mode: sets M (mean ratio), MED, lo, hi, list (JSON array)
  function ratios(ty, md,   o, l, r, n, k, a) {
    o = "ours" SUBSEP ty SUBSEP md; l = "llama.cpp" SUBSEP ty SUBSEP md
    M = sum[o] / cnt[o] / (sum[l] / cnt[l]); n = 0; list = ""
    for (r = 1; r <= maxr; r++)
      if ((o SUBSEP r) in v && (l SUBSEP r) in v && v[l SUBSEP r] > 0) {
        a[++n] = v[o SUBSEP r] / v[l SUBSEP r]; list = list (n > 1 ? ", " : "") sprintf("%.3f", a[n]) }
    if (n) MED = med(a, n); else { MED = 0; lo = 0; hi = 0 }
    list = "[" list "]"
  }
  { k = $1 SUBSEP $2 SUBSEP $4; if ($5 == "") next; sum[k] += $5; cnt[k]++; v[k SUBSEP $3] = $5; if ($3 > maxr) maxr = $3
    if (!($2 in seen)) { seen[$2] = 1; order[++nt] = $2 } }
  END {
    printf "{\"shape\": \"%s\", \"threads\": %d, \"n_prompt\": %d, \"n_gen\": %d, \"rounds\": %d, \"results\": [", shape, T, P, N, maxr > out
    for (i = 1; i <= nt; i++) {
      ty = order[i]; sep = i > 1 ? "," : ""
      if (ty == "encode") {
        o = "ours" SUBSEP ty SUBSEP "enc"; om = sum[o] / cnt[o]
        if (cnt["llama.cpp" SUBSEP ty SUBSEP "enc"]) {
          ratios(ty, "enc"); lm = om / M
          printf "| encode (ms, lower is better) | %.0f | %.0f | %.2f [%.2f, %.2f-%.2f] | | | |\n", om, lm, M, MED, lo, hi
          printf "%s\n  {\"type\": \"clip-encode\", \"ours_ms\": %.1f, \"llamacpp_ms\": %.1f, \"time_ratio\": %.3f, \"time_ratio_median\": %.3f, \"time_ratio_rounds\": %s}", sep, om, lm, M, MED, list > out
        } else {
          printf "| encode (ms) | %.0f | - | - | | | |\n", om
          printf "%s\n  {\"type\": \"clip-encode\", \"ours_ms\": %.1f}", sep, om > out
        }
        continue
      }
      op = sum["ours" SUBSEP ty SUBSEP "pp"] / cnt["ours" SUBSEP ty SUBSEP "pp"]
      ot = sum["ours" SUBSEP ty SUBSEP "tg"] / cnt["ours" SUBSEP ty SUBSEP "tg"]
      if (cnt["llama.cpp" SUBSEP ty SUBSEP "pp"] && cnt["llama.cpp" SUBSEP ty SUBSEP "tg"]) {
        ratios(ty, "pp"); rp = M; mp = MED; lp = op / M; lop = lo; hip = hi; listp = list
        ratios(ty, "tg"); rt = M; mt = MED; lt = ot / M
        printf "| %s | %.2f | %.2f | %.2f [%.2f, %.2f-%.2f] | %.2f | %.2f | %.2f [%.2f, %.2f-%.2f] |\n", ty, op, lp, rp, mp, lop, hip, ot, lt, rt, mt, lo, hi
        printf "%s\n  {\"type\": \"%s\", \"ours_pp_tps\": %.3f, \"ours_tg_tps\": %.3f, \"llamacpp_pp_tps\": %.3f, \"llamacpp_tg_tps\": %.3f, \"pp_ratio\": %.3f, \"tg_ratio\": %.3f, \"pp_ratio_median\": %.3f, \"tg_ratio_median\": %.3f, \"pp_ratio_rounds\": %s, \"tg_ratio_rounds\": %s}", sep, ty, op, ot, lp, lt, rp, rt, mp, mt, listp, list > out
      } else {
        printf "| %s | %.2f | - | - | %.2f | - | - |\n", ty, op, ot
        printf "%s\n  {\"type\": \"%s\", \"ours_pp_tps\": %.3f, \"ours_tg_tps\": %.3f}", sep, ty, op, ot > out
      }
    }
    printf "\n]}\n" > out
  }' "$tmp"
echo "(written to $OUT)"
