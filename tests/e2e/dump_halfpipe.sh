# Pipes with one end closed in every task: a read end with unread data and
# no writer, a write end with no reader. After a real dump, kill and
# restore the reader gets the data then end of file, the writer EPIPE, and
# `amber show` says which end was closed.
. "$E2E_LIB"

wl=$(e2e_workload halfpipe)
n=$(e2e_name halfpipe)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "halfpipe: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
shown=$("$AMBER" show "$E2E_TMP/img")
assert_contains "$shown" "8 bytes unread, write end closed" "amber show: pipe without writer"
assert_contains "$shown" "6 bytes unread, read end closed" "amber show: pipe without reader"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "halfpipe: OK" "workload verdict"
