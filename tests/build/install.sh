# `cmake --install` of the already-built tree (argument 1) into a temporary
# prefix: bin/amber runs, bin/criu is a relative link to it (unless
# AMBER_INSTALL_CRIU_LINK=OFF), there is a man page for amber and each verb,
# and the bash completion. (A full build with another generator takes
# minutes; this checks the install rules in seconds.)
. "$(dirname "$0")/lib.bash"
prefix=$(mktemp -d /tmp/amber-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
"$cmake" --install "$build" --prefix "$prefix" >/dev/null
[ -x "$prefix/bin/amber" ] || fail "no $prefix/bin/amber after cmake --install"
out=$("$prefix/bin/amber" --help)
case "$out" in
  *"checkpoint and restore whole Linux containers"*) ;;
  *) fail "$prefix/bin/amber --help printed: $out" ;;
esac

case "$(cache_option AMBER_INSTALL_CRIU_LINK)" in
  ON)
    [ -L "$prefix/bin/criu" ] || fail "no link $prefix/bin/criu"
    [ "$(readlink "$prefix/bin/criu")" = amber ] || fail "bin/criu -> $(readlink "$prefix/bin/criu"), not amber"
    ;;
  OFF) [ ! -e "$prefix/bin/criu" ] || fail "AMBER_INSTALL_CRIU_LINK=OFF installed bin/criu" ;;
  *) fail "AMBER_INSTALL_CRIU_LINK is not in $build/CMakeCache.txt" ;;
esac

man1="$prefix/share/man/man1"
verbs=$(verbs_of "$prefix/bin/amber")
[ -n "$verbs" ] || fail "amber --help lists no verbs"
for page in amber $(printf 'amber-%s\n' $verbs); do
  [ -s "$man1/$page.1.gz" ] || fail "no man page $man1/$page.1.gz"
  MANWIDTH=120 man -l "$man1/$page.1.gz" 2>/dev/null | grep -q "^NAME" || fail "man -l $page.1.gz shows no NAME section"
done
[ "$(ls "$man1" | wc -l)" = "$(($(echo "$verbs" | wc -w) + 1))" ] || fail "stray man pages: $(ls "$man1")"

comp="$prefix/share/bash-completion/completions/amber"
[ -s "$comp" ] || fail "no bash completion at $comp"
bash -c ". '$comp' && complete -p amber" | grep -q -- "-F _amber amber" || fail "$comp does not register _amber"
echo "PASS: cmake --install put bin/amber, the criu link, $(ls "$man1" | wc -l) man pages and the completion in place"
