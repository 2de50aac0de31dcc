# A process and its fork child sharing one open file description (one
# position) and the container log, with close-on-exec flags per fd: still
# shared after dump, kill and restore.
. "$E2E_LIB"

wl=$(e2e_workload sharedfd)
n=$(e2e_name shfd)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "sharedfd: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
kill -USR1 "$pid2"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "sharedfd: OK" "workload verdict"
