# `cmake --install` of the already-built tree (argument 1) into a temporary
# prefix: bin/amber is there and runs. (A full build with another generator
# takes minutes; this checks the install rule in seconds.)
set -euo pipefail
build=${1:?usage: install.sh BUILD_DIR [CMAKE]}
cmake=${2:-cmake}
prefix=$(mktemp -d /tmp/amber-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
"$cmake" --install "$build" --prefix "$prefix" >/dev/null
[ -x "$prefix/bin/amber" ] || { echo "FAIL: no $prefix/bin/amber after cmake --install" >&2; exit 1; }
out=$("$prefix/bin/amber" --help)
case "$out" in
  *"checkpoint and restore whole Linux containers"*) ;;
  *) echo "FAIL: $prefix/bin/amber --help printed: $out" >&2; exit 1 ;;
esac
echo "PASS: cmake --install put a working bin/amber into the prefix"
