# completion/amber.bash against the built amber, as bash calls it: the verbs,
# each verb's options (from its --help), container names from the state
# directory, directories for -D, nothing once a verb has its container, and
# commands after `--`.
. "$(dirname "$0")/lib.bash"
amber="$build/amber"
tmp=$(mktemp -d /tmp/amber-completion.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/state/box1" "$tmp/state/box2" "$tmp/state/.journal" "$tmp/images/img1"

# complete WORD...: what _amber offers for the last WORD.
complete_words() {
  AMBER_STATE_DIR="$tmp/state" bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _amber
    printf "%s\n" "${COMPREPLY[@]}"' _ "$src/completion/amber.bash" "$@" | sort | xargs
}
expect() {  # EXPECTED WORD...
  local want=$1 got
  shift
  got=$(complete_words "$@")
  [ "$got" = "$want" ] || fail "completing '$*': expected '$want', got '$got'"
}

expect "$(verbs_of "$amber" | sort | xargs)" "$amber" ""
expect "dump" "$amber" -v du
expect "$(options_of "$amber" restore | sort | xargs)" "$amber" restore -
expect "$(options_of "$amber" | sort | xargs)" "$amber" -
expect "box1 box2" "$amber" logs ""
expect "box1 box2" "$amber" --log-file /dev/null dump -D x --leave-running bo
expect "" "$amber" kill box1 ""
expect "$tmp/images/img1" "$amber" restore -D "$tmp/images/i"
expect "$tmp/images/img1" "$amber" show "$tmp/images/"
expect "uts" "$amber" check box1 --external ut
expect "sleep" "$amber" exec -d box1 -- slee
expect "" "$amber" run --name ""
echo "PASS: verbs, options, container names, directories and commands"
