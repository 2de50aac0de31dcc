# A pipeline of 4 processes with unread data in its 3 pipes: dumped while
# data flows, killed, restored; the consumer gets every record once, in
# order.
. "$E2E_LIB"

wl=$(e2e_workload pipeline)
n=$(e2e_name pipe)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "pipeline: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
run_cmd "$AMBER" show "$E2E_TMP/img"
unread=$(echo "$OUT" | grep -c 'bytes unread' || true)
[ "$unread" -ge 2 ] || fail "expected unread data in at least 2 pipes at dump time: $(echo "$OUT" | grep pipe)"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
wait_until 60 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "pipeline: OK 40000" "workload verdict"
