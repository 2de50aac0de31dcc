# Named pipes with unread data, ends in two processes (and one held O_RDWR by
# a single process), on the container's own tmpfs: still one pipe each, data
# and flags kept, after a real dump, kill and restore.
. "$E2E_LIB"

wl=$(e2e_workload fifo)
n=$(e2e_name fifo)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "fifo: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "fifo: OK" "workload verdict"
