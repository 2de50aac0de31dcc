# The Debian package CPack builds from this build tree (`cpack -G DEB`,
# cmake/install.cmake), inspected with dpkg-deb: its control fields (name,
# version as amber records it in images, architecture, Depends computed from
# the linked libraries, Conflicts with Debian's criu when it carries the
# link), and its contents (dpkg-deb -c): /usr/bin/amber stripped and
# executable, /usr/bin/criu -> amber, a man page for amber and each verb,
# the bash completion, nothing else. The amber it carries runs.
. "$(dirname "$0")/lib.bash"
for t in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$t" >/dev/null || skip "$t is not installed (scripts/setup.sh installs dpkg-dev)"
done
cpack=$(dirname "$cmake")/cpack
[ -x "$cpack" ] || cpack=cpack
tmp=$(mktemp -d /tmp/amber-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && "$cpack" --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) ||
  fail "cpack -G DEB failed: $(tail -20 "$tmp/cpack.log")"
debs=("$tmp"/out/*.deb)
[ "${#debs[@]}" = 1 ] && [ -f "${debs[0]}" ] || fail "cpack made no single .deb: $(ls "$tmp/out")"
deb=${debs[0]}
version=$(sed -n 's/.*kAmberVersion = "\([0-9.]*\)".*/\1/p' "$src/src/image/format.h")
arch=$(dpkg --print-architecture)
assert_field() {  # FIELD EXPECTED
  local got
  got=$(dpkg-deb -f "$deb" "$1")
  [ "$got" = "$2" ] || fail "$(basename "$deb"): $1 is '$got', not '$2'"
}
assert_field Package amber
assert_field Version "$version"
assert_field Architecture "$arch"
[ "$(basename "$deb")" = "amber_${version}_$arch.deb" ] || fail "file name $(basename "$deb")"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libprotobuf libssl3 libxxhash0 libnl-route-3 libnftables1 libfmt; do
  case "$depends" in *"$lib"*) ;; *) fail "Depends lacks $lib: $depends" ;; esac
done
link=$(cache_option AMBER_INSTALL_CRIU_LINK)
if [ "$link" = ON ]; then assert_field Conflicts criu; else assert_field Conflicts ""; fi

# dpkg-deb -c: "MODE OWNER SIZE DATE TIME PATH[ -> TARGET]".
dpkg-deb -c "$deb" >"$tmp/contents"
listing() { awk '{ p = $6; for (i = 7; i <= NF; i++) p = p " " $i; print substr($1, 1, 1), $2, p }' "$tmp/contents"; }
files=$(listing | awk '$1 != "d" { $1 = ""; $2 = ""; sub(/^  /, ""); print }' | sort)
want=$( {
  echo ./usr/bin/amber
  [ "$link" = ON ] && echo "./usr/bin/criu -> amber"
  echo ./usr/share/bash-completion/completions/amber
  echo ./usr/share/man/man1/amber.1.gz
  for v in $(verbs_of "$build/amber"); do echo "./usr/share/man/man1/amber-$v.1.gz"; done
} | sort)
[ "$files" = "$want" ] || fail "package contents differ: $(diff <(echo "$want") <(echo "$files"))"
listing | awk '$1 != "d" && $2 != "root/root" { bad = 1; print "not root/root: " $0 } END { exit bad }' >&2 ||
  fail "files not owned by root"
grep -q '^-rwxr-xr-x .* \./usr/bin/amber$' "$tmp/contents" || fail "usr/bin/amber is not 0755: $(grep bin/amber "$tmp/contents")"

dpkg-deb -x "$deb" "$tmp/root"
"$tmp/root/usr/bin/amber" --help | grep -q "checkpoint and restore whole Linux containers" || fail "the packaged amber does not run"
if readelf -S "$tmp/root/usr/bin/amber" | grep -q '\.debug_info'; then fail "usr/bin/amber is not stripped"; fi
size=$(stat -c %s "$tmp/root/usr/bin/amber")
echo "PASS: $(basename "$deb"): $(wc -l <<<"$files") files, amber $((size >> 20)) MiB stripped, Depends: $depends"
