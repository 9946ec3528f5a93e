#!/bin/sh
# Runs every test binary given, then prints the total as "N passed, N failed, N skipped".
# Each binary prints "RESULT pass fail skip" as its last stdout line.
pass=0; fail=0; skip=0
# per-run scratch folder, so two test runs on one machine never share files
errdir=$(mktemp -d "${TMPDIR:-/tmp}/lv-run.XXXXXX")
trap 'rm -rf "$errdir"' EXIT
for t in "$@"; do
    name=$(basename "$t")
    out=$("$t" 2>"$errdir/$name.err"); rc=$?
    sed 's/^/  /' "$errdir/$name.err" | grep -v '^  ok ' || true
    res=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -n 1)
    if [ -z "$res" ]; then
        echo "$name: crashed or printed no RESULT (exit $rc)"
        tail -n 20 "$errdir/$name.err" | sed 's/^/  /'
        fail=$((fail + 1)); continue
    fi
    p=$(echo "$res" | cut -d' ' -f2); f=$(echo "$res" | cut -d' ' -f3); s=$(echo "$res" | cut -d' ' -f4)
    echo "$name: $p passed, $f failed, $s skipped"
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { echo "$name: exit $rc"; fail=$((fail + 1)); }
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
