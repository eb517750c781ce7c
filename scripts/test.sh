#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's second command: the whole test suite. A plain build runs every
# meson suite (unit, corpus, cli, CPython and container differentials,
# fuzz-corpus replays); an ASan+UBSan build runs them again; valgrind runs the
# CLI on a representative set; each libFuzzer target runs for a short budget; the
# real-loader check runs torch/numpy/joblib on our own harmless malicious
# samples in a throwaway directory.
set -euo pipefail
cd "$(dirname "$0")/.."

run_suite() { # build-dir, extra meson options...
  local dir=$1; shift
  [ -d "$dir" ] || meson setup "$dir" "$@" >/dev/null
  ninja -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2
}

echo "== every source file has its SPDX license line"
bash scripts/spdx.sh --check
echo "== plain build: all suites"
run_suite build
echo "== ASan + UBSan build: all suites"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
echo "== valgrind on a representative set"
# The project's own malicious and benign samples, plus the optional peer corpus
# when it is beside the checkout (as in CI).
vg_inputs=(fixtures/examples/* fixtures/torch/malicious_*.pt fixtures/legacy/*.pt
           fixtures/zip/*.zip fixtures/numpy/*.npy fixtures/joblib/payload*
           fixtures/attacks/*)
if [ -d ../shared/corpus ]; then
  vg_inputs+=(../shared/corpus/picklescan/*.pkl ../shared/corpus/picklescan/*.zip
              ../shared/corpus/modelscan/*)
else
  echo "valgrind: ../shared/corpus absent (optional peer corpus): the fixtures only"
fi
valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  ./build/cli/ckptscan -q -j 1 "${vg_inputs[@]}" >/dev/null || [ $? -ne 99 ]
vg_inspect=(fixtures/torch/*.pt fixtures/examples/*)
valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  ./build/cli/ckptscan inspect -j 1 --format json "${vg_inspect[@]}" >/dev/null || [ $? -ne 99 ]
echo "valgrind: clean on ${#vg_inputs[@]} inputs scanned and ${#vg_inspect[@]} inspected"
echo "== fuzzing, ${FUZZ_SECONDS:-30} s per target"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
echo "== real loaders on our harmless malicious samples"
python3 tests/real_loader/check_real_loaders.py --ckptscan build/cli/ckptscan
