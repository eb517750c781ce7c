#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target for a fixed budget (default 60 s each) when
# clang is available. New crashes stop the run with a non-zero status; add
# the crashing input to fuzz/corpus/<target>/ so every CI run replays it.
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
for t in scan pickle policy json zip numpy inspect fastpath convert report_store; do
  work=$(mktemp -d)
  cp fuzz/corpus/"$t"/* "$work"/
  dict=()
  case $t in scan|pickle|zip|numpy|inspect|fastpath|convert) dict=(-dict=fuzz/pickle.dict) ;; esac
  echo "== fuzz_$t for ${budget}s"
  UBSAN_OPTIONS=halt_on_error=1 "$dir/fuzz/fuzz_$t" "${dict[@]}" -max_total_time="$budget" \
    -max_len=8192 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$dir/crash-$t-" \
    -print_final_stats=1 "$work" 2>&1 | grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY)" || true
  rm -rf "$work"
  if ls "$dir"/crash-"$t"-* >/dev/null 2>&1; then
    echo "fuzz_$t found a crash: $(ls "$dir"/crash-"$t"-*)"
    exit 1
  fi
done
