# POSIX message queue fds (issue 13, "a POSIX mqueue"): the init holds a
# write-only fd of a queue with 5 messages of mixed priorities, its child
# the same description (inherited) and a read-only O_NONBLOCK one of its
# own. After dump -> kill -> restore the init sends through its fd, the child
# receives through its own: the messages queued before the dump first, in
# priority order, then the new ones; each fd keeps its flags. A queue
# removed with mq_unlink while open is refused by name.
. "$E2E_LIB"

wl=$(e2e_workload mqfd)
n=$(e2e_name mqfd)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "mqfd: READY" "$AMBER_STATE_DIR/$n/log"
pids=$(init_and_children "$n")
fds_of() { local p; for p in $pids; do for f in /proc/$p/fd/*; do
  [ "$(readlink "$f")" = /amber_mqfd ] && echo "$(basename "$f") $(awk '/^flags/ { print $2 }' /proc/$p/fdinfo/$(basename "$f"))"; done; done; true; }
fds_before=$(fds_of)
assert_eq 3 "$(echo "$fds_before" | wc -l)" "mq fds before the dump: $fds_before"

note "a dump failing after the fds were read leaves the container running as it was (queue and fds)"
snap=$(task_snapshot "$n" $pids)
run_cmd env AMBER_FAULT=dump.tree-plan "$AMBER" dump "$n" -D "$E2E_TMP/img-f"
assert_eq 1 "$STATUS" "dump with fault dump.tree-plan (stderr: $ERR)"
assert_held_nothing "$n"
assert_eq "$snap" "$(task_snapshot "$n" $pids)" "tasks after the failed dump"

pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
assert_contains "$("$AMBER" show "$E2E_TMP/img")" "POSIX message queue /amber_mqfd: 5 messages" "amber show"

"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pids=$(init_and_children "$n")
assert_eq "$fds_before" "$(fds_of)" "mq fds (numbers and flags) after the restore"
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
log=$(cat "$AMBER_STATE_DIR/$n/log")
assert_contains "$log" "mqfd: OK" "workload verdict"
assert_not_contains "$log" "FAIL" "workload failures"
"$AMBER" kill "$n" >/dev/null 2>&1 || true

note "a queue removed with mq_unlink while still open is refused by name; the container runs on"
n=$(e2e_name gone)
"$AMBER" run --name "$n" -- "$wl" unlinked >/dev/null
wait_until 10 grep -q "mqfd: READY" "$AMBER_STATE_DIR/$n/log"
assert_fails 4 "task 1: fd 3: POSIX message queue /amber_gone (deleted): removed with mq_unlink while open: not supported yet" \
  "$AMBER" dump "$n" -D "$E2E_TMP/gone"
[ ! -e "$E2E_TMP/gone" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
"$AMBER" kill "$n" >/dev/null
