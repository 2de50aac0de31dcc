#!/usr/bin/env bash
# Installs what is missing, builds, removes what earlier test runs left, and runs
# the whole test suite (unit + end-to-end) with ctest. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
./scripts/clean-test-cgroups.sh
cd build
ctest --output-on-failure -j2 --timeout 600 "$@"
