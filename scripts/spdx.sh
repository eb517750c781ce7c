#!/usr/bin/env bash
# Gives every source file of the repository its SPDX license line (first line,
# or second after a #! line); the file's purpose comment follows it.
# scripts/spdx.sh adds missing lines; scripts/spdx.sh --check only lists them
# and fails (scripts/test.sh runs the check).
set -euo pipefail
cd "$(dirname "$0")/.."
id="SPDX-License-Identifier: Apache-2.0"
check=0
[ "${1:-}" = "--check" ] && check=1
missing=0
while IFS= read -r f; do
  grep -q "SPDX-License-Identifier:" "$f" && continue
  missing=$((missing + 1))
  if [ $check -eq 1 ]; then
    echo "no SPDX line: $f (run scripts/spdx.sh)"
    continue
  fi
  case "$f" in
    *.c | *.h | *.h.in) line="/* $id */" ;;
    *) line="# $id" ;;
  esac
  if head -c 2 "$f" | grep -q '^#!'; then
    sed -i "1a $line" "$f"
  else
    sed -i "1i $line" "$f"
  fi
done < <(git ls-files -- '*.c' '*.h' '*.h.in' '*.py' '*.sh' 'meson.build' '*/meson.build' \
           'meson_options.txt' '.ci/run' 2>/dev/null || true)
if [ $check -eq 1 ]; then
  echo "spdx: $missing source files without an SPDX line"
  [ $missing -eq 0 ]
fi
