#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything ckptscan needs to build, test and fuzz on Debian 12
# (run as root). Idempotent; used by the README's first command and by CI.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  # build
  gcc meson ninja-build pkg-config
  libzip-dev zlib1g-dev libbz2-dev liblzma-dev liblz4-dev libzstd-dev
  # tests
  libcmocka-dev python3 python3-jsonschema valgrind clang
  # ground truth for fixtures, the real-loader check and the container
  # differential test (never used by ckptscan); lz4 for joblib's lz4 streams
  python3-torch python3-numpy python3-joblib python3-lz4
  # the Python package: build (pip install .), tests, Dask, pre-commit hook
  python3-pip python3-mesonpy python3-pytest python3-distributed pre-commit
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the official SARIF 2.1.0 schema for the SARIF test; keep a
# Node.js that is already there (Debian's npm would replace it)
command -v npm >/dev/null || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
