# The man pages the build made (BUILD/man, by man/generate.py) against the
# built amber: every verb has a hand-written man/amber-VERB.roff and no verb
# that is gone keeps one; every page renders without a groff warning; each
# option of `amber VERB --help` (short and long) is in the OPTIONS of
# amber-VERB(1), each global option and each verb in amber(1).
. "$(dirname "$0")/lib.bash"
amber="$build/amber"
out="$build/man"
[ -d "$out" ] || fail "no $out: build the man target (cmake --build $build --target man)"
verbs=$(verbs_of "$amber")
[ -n "$verbs" ] || fail "amber --help lists no verbs"

for v in $verbs; do
  [ -f "$src/man/amber-$v.roff" ] ||
    fail "verb $v has no man/amber-$v.roff: write its DESCRIPTION (see man/generate.py and the other pages)"
done
for f in "$src"/man/amber-*.roff; do
  v=$(basename "$f" .roff)
  v=${v#amber-}
  grep -qxF "$v" <<<"$(printf '%s\n' $verbs)" || fail "man/amber-$v.roff describes a verb amber no longer has"
done

# render PAGE: the page as plain text, wide enough that no option is broken.
render() { zcat "$1" | groff -man -Tascii -P-c -rLL=300n 2>/dev/null | col -bx; }
# has TEXT OPTION: OPTION stands alone in TEXT (not as part of a longer one).
# (A here-string, not a pipe: grep -q stops at the first match, and printf
# writing the rest of a long page got SIGPIPE, failing the pipeline.)
has() { grep -qE -- "(^|[ ,(])$2([ ,)]|$)" <<<"$1"; }

for page in amber $(printf 'amber-%s\n' $verbs); do
  f="$out/$page.1.gz"
  [ -s "$f" ] || fail "no $f"
  warn=$(zcat "$f" | groff -man -ww -z -Tascii 2>&1 || true)
  [ -z "$warn" ] || fail "$page.1: groff warns: $warn"
  text=$(render "$f")
  has "$text" "$page" || fail "$page.1 does not name $page"
  if [ "$page" = amber ]; then
    opts=$(options_of "$amber")
    for v in $verbs; do has "$text" "amber-$v\(1\)" || fail "amber.1 does not list amber-$v(1)"; done
  else
    opts=$(options_of "$amber" "${page#amber-}")
    for s in DESCRIPTION OPTIONS; do grep -qx "$s" <<<"$text" || fail "$page.1 has no $s section"; done
  fi
  [ -n "$opts" ] || fail "no options in the help of $page"
  # In its OPTIONS section, not merely named in the prose.
  section=$(printf '%s\n' "$text" | awk '/^OPTIONS$/ { p = 1; next } /^[A-Z][A-Z ]+$/ { p = 0 } p')
  for o in $opts; do has "$section" "$o" || fail "$page.1 lacks option $o of its --help in OPTIONS"; done
done
echo "PASS: $(echo "$verbs" | wc -w) verbs, each with its page and every option of its --help in it"
