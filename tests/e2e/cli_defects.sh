# Command-line defects a hostile-user review found (issue 12): each misuse is
# refused with exit 2 and one clear line, and leaves nothing behind — no
# state, no cgroup, not a directory in the user's rootfs.
. "$E2E_LIB"

note "an explicitly empty option is refused, not read as 'not given'"
n=$(e2e_name empty)
assert_fails 2 "--name: empty" "$AMBER" run --name '' -- true
assert_fails 2 "--rootfs: empty" "$AMBER" run --name "$n" --rootfs '' -- true
assert_fails 2 "--hostname: empty" "$AMBER" run --name "$n" --hostname '' -- true
assert_nothing_left "$n"
assert_fails 2 "--name: empty" "$AMBER" restore -D "$E2E_TMP/noimage" --name ''
assert_fails 2 "--images-dir: empty" "$AMBER" restore -D ''
assert_fails 2 "--images-dir: empty" "$AMBER" dump "$n" -D ''

note "amber creates nothing in a user's rootfs"
root="$E2E_TMP/bare"
make_busybox_rootfs "$root"
rmdir "$root/proc" "$root/dev" "$root/tmp"
before=$(cd "$root" && find . | sort)
assert_fails 2 "rootfs $root: no proc directory (amber creates nothing in a rootfs)" \
  "$AMBER" run --name "$n" --rootfs "$root" -- sh -c true
assert_nothing_left "$n"
assert_eq "$before" "$(cd "$root" && find . | sort)" "rootfs after a refused run"
mkdir "$root/proc" "$root/dev"
assert_fails 2 "rootfs $root: no tmp directory" "$AMBER" run --name "$n" --rootfs "$root" -- sh -c true
rmdir "$root/proc" "$root/dev"
# A mount point that is a symlink would be followed in the host's tree.
mkdir "$root/proc" "$root/tmp"
ln -s /tmp "$root/dev"
assert_fails 2 "rootfs $root: dev is not a directory" "$AMBER" run --name "$n" --rootfs "$root" -- sh -c true
assert_nothing_left "$n"
rm "$root/dev"
rmdir "$root/proc" "$root/tmp"
assert_eq "$before" "$(cd "$root" && find . | sort)" "rootfs after the refused runs"
# A rootfs given as a symlink is resolved once; its target is checked, and
# nothing is made there (the review's case: a symlink to /etc).
ln -s /etc "$E2E_TMP/etc-link"
etc_before=$(ls -A /etc)
assert_fails 2 "rootfs $E2E_TMP/etc-link: no proc directory" \
  "$AMBER" run --name "$n" --rootfs "$E2E_TMP/etc-link" -- true
assert_nothing_left "$n"
assert_eq "$etc_before" "$(ls -A /etc)" "/etc after a run with a rootfs linked to it"

note "bad --pid and -D values"
assert_fails 2 "--pid -1: not a process id" "$AMBER" check --pid -1
assert_fails 2 "--pid 999999999: no such process" "$AMBER" check --pid 999999999
long="$E2E_TMP/$(printf 'x%.0s' $(seq 4096))"
assert_fails 2 "--images-dir: longer than" "$AMBER" restore -D "$long"
assert_fails 2 "--images-dir: longer than" "$AMBER" dump "$n" -D "$long"
assert_fails 2 "longer than" "$AMBER" show "$long"
# One component longer than NAME_MAX, the whole path short enough.
assert_fails 2 "longer than 255 bytes" "$AMBER" restore -D "$E2E_TMP/$(printf 'y%.0s' $(seq 300))"

note "a user who is not root is told so"
# E2E_BIN is this scenario's own directory: let nobody reach a copy of amber.
cp "$AMBER" "$E2E_BIN/amber"
chmod 755 "$E2E_BIN"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$E2E_BIN/amber" "$@"; }
for verb in "ps" "run -- true" "exec $n -- true" "kill $n" "logs $n" "thaw $n" "check $n" \
  "dump $n -D $E2E_TMP/img" "restore -D $E2E_TMP/img"; do
  # shellcheck disable=SC2086  # the verb's words
  assert_fails 2 "amber must run as root" as_nobody $verb
done
# show only reads an image: it needs no root, but the key the image is
# authenticated with; the host's is root's (src/image/auth.h).
assert_fails 2 "Permission denied: it is root's (run amber as root, or give --key FILE)" \
  as_nobody show "$E2E_BIN/no-such-image"
(umask 077 && head -c 32 /dev/urandom >"$E2E_BIN/nobody.key")
chown 65534 "$E2E_BIN/nobody.key"
assert_fails 2 "no-such-image" as_nobody show "$E2E_BIN/no-such-image" --key "$E2E_BIN/nobody.key"
assert_not_contains "$ERR" "root" "show as nobody"
run_cmd as_nobody --help
assert_eq 0 "$STATUS" "amber --help as nobody"

note "amber run CMD ARGS without --: options of amber end at the command"
n=$(e2e_name nodash)
"$AMBER" run --name "$n" sh -c 'echo "args: $*"' sh -l / >/dev/null
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_eq "args: -l /" "$("$AMBER" logs "$n")" "output of a command given without --"
assert_eq '["sh","-c","echo \"args: $*\"","sh","-l","/"]' \
  "$(jq -c .command "$AMBER_STATE_DIR/$n/state.json")" "recorded command"
"$AMBER" kill "$n"
assert_nothing_left "$n"
# exec takes NAME before CMD: an option there gets a hint, not just "not expected".
n=$(e2e_name exechint)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
assert_fails 2 "use \`amber exec [OPTIONS] NAME -- CMD ARGS...\`" "$AMBER" exec "$n" ls -l /
"$AMBER" kill "$n"
assert_nothing_left "$n"

assert_eq "" "$(ls -A "$AMBER_STATE_DIR" 2>/dev/null)" "state root after the failures"
