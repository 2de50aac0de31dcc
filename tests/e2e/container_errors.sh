# Refusals: exit 2 with one clear line, and nothing left behind (no state
# directory, no cgroup, no process).
. "$E2E_LIB"

note "unknown container"
assert_fails 2 "no container named nosuch" "$AMBER" exec nosuch -- true
assert_fails 2 "no container named nosuch" "$AMBER" kill nosuch
assert_fails 2 "no container named nosuch" "$AMBER" logs nosuch
assert_fails 2 "no container named nosuch" "$AMBER" thaw nosuch

note "a name in use"
n=$(e2e_name t1)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
pid=$(init_pid "$n")
assert_fails 2 "container $n already exists" "$AMBER" run --name "$n" -- sh -c 'exit 0'
# The first one is untouched.
assert_eq running "$(ps_state "$n")" "state of the first $n"
assert_eq "$pid" "$(init_pid "$n")" "init of the first $n"
assert_eq 1 "$(live_shims "$n" | wc -l)" "shims of $n"
"$AMBER" kill "$n"
assert_nothing_left "$n" "$pid"

note "a rootfs that does not exist"
n=$(e2e_name noroot)
assert_fails 2 "rootfs $E2E_TMP/nonexistent: No such file or directory" \
  "$AMBER" run --name "$n" --rootfs "$E2E_TMP/nonexistent" -- sh
assert_nothing_left "$n"

note "a command that does not exist (host tree)"
n=$(e2e_name nocmd)
assert_fails 2 "no-such-command-$$: command not found" "$AMBER" run --name "$n" -- "no-such-command-$$"
assert_nothing_left "$n"
n=$(e2e_name nopath)
assert_fails 2 "command not found" "$AMBER" run --name "$n" -- /no/such/dir/cmd
assert_nothing_left "$n"

note "a command missing from the rootfs"
root="$E2E_TMP/rootfs"
make_busybox_rootfs "$root"
n=$(e2e_name rootnocmd)
# bash exists on the host but not in the busybox rootfs.
assert_fails 2 "bash: command not found" "$AMBER" run --name "$n" --rootfs "$root" -- bash -c true
assert_nothing_left "$n"
# The failed init's mounts died with its mount namespace: none on the host.
if grep -qF "$root" /proc/self/mountinfo; then fail "mounts of $root left on the host"; fi
# And the rootfs is intact.
assert_eq "bin dev proc tmp" "$(ls "$root" | xargs)" "rootfs contents"

note "a rootfs that is a file"
n=$(e2e_name fileroot)
assert_fails 2 "not a directory" "$AMBER" run --name "$n" --rootfs "$root/bin/busybox" -- sh
assert_nothing_left "$n"

note "bad names and usage"
assert_fails 2 "invalid container name" "$AMBER" run --name 'a/b' -- true
assert_fails 2 "invalid container name" "$AMBER" run --name "$(printf 'x%.0s' $(seq 65))" -- true
assert_fails 2 "invalid container name" "$AMBER" run --name '..' -- true
assert_fails 2 "expected KEY=VALUE" "$AMBER" run --name "$(e2e_name badenv)" --env NOEQUALS -- true
assert_nothing_left "$(e2e_name badenv)"
run_cmd "$AMBER" run --name "$(e2e_name nocommand)"
assert_eq 2 "$STATUS" "amber run without a command"
assert_nothing_left "$(e2e_name nocommand)"
# Nothing at all was left in the state root by any of the failures.
assert_eq "" "$(ls -A "$AMBER_STATE_DIR" 2>/dev/null)" "state root after the failures"
