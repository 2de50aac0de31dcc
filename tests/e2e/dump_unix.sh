# Unix sockets of every shape (workloads/unix.c): socketpairs stream, dgram
# and seqpacket with data queued both ways (boundaries kept), a listener on
# the container's /tmp with an accepted connection and two not yet
# accepted, an abstract datagram server with datagrams from two clients, a
# datagram socket bound to a path, a half shutdown, a closed peer, options.
# Real dump -> kill -> restore; the workload checks it all and reports.
. "$E2E_LIB"

wl=$(e2e_workload unix)
n=$(e2e_name unix)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "unix: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
kill -USR1 "$(init_pid "$n")"
wait_until 10 eval '! ps_state_is "$n" running'
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "unix: OK" "workload verdict"
assert_eq "stopped (exit 0)" "$(ps_state "$n")" "workload exit"
