#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails when a C file differs from what clang-format (.clang-format) makes of it.
# Run by `meson test format` and so by scripts/test.sh; exit 77 (skip) without
# clang-format. Fix with: clang-format -i FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format not installed: format check skipped"; exit 77; }
bad=0 n=0
while IFS= read -r f; do
  n=$((n + 1))
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)"
    bad=$((bad + 1))
  fi
done < <(find src cli include tests fuzz bench -name '*.[ch]' 2>/dev/null | sort)
echo "clang-format: $n files checked, $bad not formatted"
[ "$bad" -eq 0 ]
