# Pty pairs of the container's own devpts with unread data both ways, raw
# and canonical termios, window size, lock, packet and exclusive state, and a
# foreground job (setsid + TIOCSCTTY + tcsetpgrp in a child): after a real
# dump, kill and restore the workload finds every bit as it was, the same
# indexes included. A failed dump and a --leave-running dump before it leave
# the queues as they were.
. "$E2E_LIB"

wl=$(e2e_workload pty)
n=$(e2e_name pty)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "pty: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
# ttys cannot be peeked: the dump reads their queues and puts them back. A
# dump that fails after that and one that leaves the container running must
# leave every queue as it was (the final check sees each byte once).
run_cmd env AMBER_FAULT=dump.write "$AMBER" dump "$n" -D "$E2E_TMP/img-fault"
assert_eq 1 "$STATUS" "dump with fault dump.write (stderr: $ERR)"
"$AMBER" dump "$n" -D "$E2E_TMP/img-live" --leave-running >/dev/null
assert_eq running "$(ps_state "$n")" "state after --leave-running"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "pty: OK" "workload verdict"
