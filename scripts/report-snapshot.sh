#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Writes every report ckptscan gives on the project's inputs to one file, so
# two builds can be compared byte for byte (a refactor must not change any):
#   scripts/report-snapshot.sh BUILD/cli/ckptscan OUT [DIR...]
# DIRs default to fixtures/, fuzz/corpus/ and ../shared/corpus when present.
# Each file gets its JSON scan, JSON inspection, SARIF, text scan and text
# inspection reports and the exit status of each; timings are blanked.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 CKPTSCAN OUT [DIR...]" >&2; exit 2; }
bin=$(realpath "$1") out=$(realpath -m "$2")
shift 2
cd "$(dirname "$0")/.."
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
  dirs=(fixtures fuzz/corpus)
  [ -d ../shared/corpus ] && dirs+=(../shared/corpus)
fi
: >"$out"
n=0
while IFS= read -r -d '' f; do
  n=$((n + 1))
  for mode in "--format json" "inspect --format json" "--format sarif" "--format text" \
    "inspect --format text"; do
    printf '=== %s | %s\n' "$mode" "$f" >>"$out"
    # shellcheck disable=SC2086 # mode holds several words
    rc=0; "$bin" $mode --no-progress "$f" >>"$out" 2>&1 || rc=$?
    printf '\n--- exit %d\n' "$rc" >>"$out"
  done
done < <(find "${dirs[@]}" -type f -print0 | LC_ALL=C sort -z)
sed -i -e 's/"seconds":[0-9.e+-]*/"seconds":_/g' -e 's/in [0-9.]* s\b/in _ s/g' "$out"
echo "report-snapshot: $n files, $(wc -c <"$out") bytes of reports in $out"
