# Shared by tests/build/*.sh (sourced; not a test itself).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
build=${1:?usage: $0 BUILD_DIR [CMAKE]}
build=$(cd "$build" && pwd)
cmake=${2:-cmake}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ -x "$build/amber" ] || fail "no $build/amber: build it first"

# verbs_of AMBER: the verbs `AMBER --help` lists (CLI11's Subcommands section).
verbs_of() { "$1" --help | awk '/^[A-Z][A-Za-z ]*:$/ { s = $0; next } s == "Subcommands:" && /^  [^ ]/ { print $1 }'; }
# options_of AMBER [VERB]: every option name (-x and --xx) of its --help.
options_of() {
  "$@" --help | awk '/^[A-Z][A-Za-z ]*:$/ { s = $0; next }
    s == "Options:" && /^  -/ { n = split($1, a, ","); for (i = 1; i <= n; i++) print a[i] }'
}
# cache_option NAME: the value of NAME in the build's CMakeCache.txt.
cache_option() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
