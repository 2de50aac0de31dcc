#!/usr/bin/env bash
# Configures and builds amber into ./build (Release with debug info); arguments
# go to the configure step (scripts/test.sh: -DAMBER_SANITIZE=ON for build-asan).
# BUILD_DIR overrides the directory (a second checkout or a worktree builds
# beside the first); ccache is used when it is installed (developers' speed,
# CI does not need it).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
cmake --build "$dir"
