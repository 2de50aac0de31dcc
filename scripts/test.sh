#!/usr/bin/env bash
# Installs what is missing, builds, removes what earlier test runs left, and runs
# the whole test suite (unit + end-to-end) with ctest. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
# The sanitizer build (ASan + UBSan): only the library, the unit tests and
# the image fuzzer. Its tests (asan.*: every unit test, the fuzzer's
# regression inputs and a short fixed-seed run) are part of the ctest run
# below (tests/CMakeLists.txt includes build-asan's test list).
BUILD_DIR=build-asan ./scripts/build.sh -DAMBER_SANITIZE=ON
./scripts/clean-test-cgroups.sh
# The run's own cgroup root (scripts/test-cgroups.bash): every scenario's
# containers and the unit tests' cgroups go under it; removed at the end.
. scripts/test-cgroups.bash
if v2=$(tcg_v2); then
  AMBER_TEST_CGROUP_ROOT=$(tcg_make_run_root "$v2" $$)
  export AMBER_TEST_CGROUP_ROOT
  trap 'tcg_remove_tree "$AMBER_TEST_CGROUP_ROOT"' EXIT
fi
cd build
ctest --output-on-failure -j2 --timeout 600 "$@"
