#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: install, build, and scan the shipped examples
# (one safe checkpoint, one malicious one). Exits 0 when both verdicts are
# the expected ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d build ] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null
echo "== a safe checkpoint (exit 0 expected)"
./build/cli/ckptscan fixtures/examples/safe_model.pt
echo
echo "== what it holds, read without loading it (exit 0 expected)"
./build/cli/ckptscan inspect fixtures/examples/safe_model.pt
echo
echo "== a malicious checkpoint (exit 3 expected: dangerous)"
set +e
./build/cli/ckptscan fixtures/examples/malicious_model.pt
rc=$?
set -e
[ "$rc" -eq 3 ] || { echo "unexpected exit status $rc" >&2; exit 1; }
echo
echo "ckptscan is built at ./build/cli/ckptscan"
