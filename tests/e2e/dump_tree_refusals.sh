# Late failures made dump-time refusals (issue 11 C, item 5): a process
# tree whose sessions the restore cannot recreate, an fd on a /proc file of
# a process that has exited, and a cwd in /proc of another process are
# refused by the dump by name (exit 4; before, the dump wrote an image its
# restore then refused or failed on), the container running on. /proc files
# of the task itself and of its parent are reopened by the restore and read
# correctly.
. "$E2E_LIB"

wl=$(e2e_workload nsmisc)

note "a session the restore cannot recreate"
n=$(e2e_name session)
"$AMBER" run --name "$n" -- "$wl" session >/dev/null
wait_until 10 grep -q "nsmisc: READY" "$AMBER_STATE_DIR/$n/log"
assert_fails 4 "process tree: task 5 is in session 2, which its parent 4 (in session 4) was not born in" \
  "$AMBER" dump "$n" -D "$E2E_TMP/img-session"
[ ! -e "$E2E_TMP/img-session" ] || fail "a refused dump left an image"
assert_held_nothing "$n"

note "an fd on /proc/PID/mountinfo of a child that has exited"
n=$(e2e_name dead)
"$AMBER" run --name "$n" -- "$wl" proc-dead >/dev/null
wait_until 10 grep -q "nsmisc: READY" "$AMBER_STATE_DIR/$n/log"
assert_fails 4 "task 1: fd 3: /proc/2/mountinfo: a /proc file of pid 2, which has exited" \
  "$AMBER" dump "$n" -D "$E2E_TMP/img-dead"
assert_held_nothing "$n"

note "a cwd in /proc/PID of a child that has exited (its directory reads as deleted)"
n=$(e2e_name cwd)
"$AMBER" run --name "$n" -- "$wl" cwd-dead >/dev/null
wait_until 10 grep -q "nsmisc: READY" "$AMBER_STATE_DIR/$n/log"
assert_fails 4 "task 1: cwd: /proc/2 (deleted): deleted" "$AMBER" dump "$n" -D "$E2E_TMP/img-cwd"
assert_held_nothing "$n"

note "a cwd in /proc/PID of a sibling: not there yet when the restored task sets its cwd"
n=$(e2e_name sibling)
"$AMBER" run --name "$n" -- "$wl" cwd-sibling >/dev/null
wait_until 10 grep -q "nsmisc: READY" "$AMBER_STATE_DIR/$n/log"
assert_fails 4 "task 3: cwd: /proc/2: a /proc file of task 2, neither this task nor an ancestor of it" \
  "$AMBER" dump "$n" -D "$E2E_TMP/img-sibling"
assert_held_nothing "$n"

note "/proc files of the task itself and of its parent come back"
n=$(e2e_name own)
"$AMBER" run --name "$n" -- "$wl" proc-own >/dev/null
wait_until 10 grep -q "nsmisc: READY" "$AMBER_STATE_DIR/$n/log"
"$AMBER" dump "$n" -D "$E2E_TMP/img-own"
"$AMBER" restore -D "$E2E_TMP/img-own" >/dev/null
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "nsmisc: OK" "the restored /proc fds read their files"
