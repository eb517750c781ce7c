#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target for a fixed budget (default 60 s each, two
# targets at a time) when clang is available. New crashes, and a target that
# does not finish its run, stop the run with a non-zero status; add the
# crashing input to fuzz/corpus/<target>/ so every CI run replays it.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-60}
if ! command -v clang >/dev/null; then
  echo "fuzz: clang not installed; skipping the timed fuzzing (replays still run as tests)"
  exit 0
fi
dir=build-fuzz
[ -d "$dir" ] || CC=clang meson setup "$dir" -Dfuzzing=true -Dtests=false \
  -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized >/dev/null
ninja -C "$dir" >/dev/null
# One target's run; its log goes to $dir/fuzz-$t.log (printed when done).
fuzz_one() {
  local t=$1 work dict=()
  work=$(mktemp -d)
  cp fuzz/corpus/"$t"/* "$work"/
  case $t in scan|pickle|zip|numpy|inspect|fastpath|convert) dict=(-dict=fuzz/pickle.dict) ;; esac
  UBSAN_OPTIONS=halt_on_error=1 "$dir/fuzz/fuzz_$t" "${dict[@]}" -max_total_time="$budget" \
    -max_len=8192 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$dir/crash-$t-" \
    -print_final_stats=1 "$work" >"$dir/fuzz-$t.log" 2>&1 || true
  rm -rf "$work"
}

# Two targets at a time (one per core of the CI machine).
targets=(scan pickle policy json zip numpy inspect fastpath convert report_store)
rm -f "$dir"/crash-*
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  pair=("${targets[@]:i:2}")
  echo "== $(printf 'fuzz_%s ' "${pair[@]}")for ${budget}s each"
  for t in "${pair[@]}"; do fuzz_one "$t" & done
  wait
  for t in "${pair[@]}"; do
    grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY)" "$dir/fuzz-$t.log" | sed "s/^/fuzz_$t: /" || true
    if ls "$dir"/crash-"$t"-* >/dev/null 2>&1; then
      echo "fuzz_$t found a crash: $(ls "$dir"/crash-"$t"-*)"
      exit 1
    fi
    if ! grep -q "^Done" "$dir/fuzz-$t.log"; then
      echo "fuzz_$t did not finish its run:"; tail -20 "$dir/fuzz-$t.log"
      exit 1
    fi
  done
done
