# TCP and UDP over 127.0.0.1 and ::1 between two processes of a container
# (tests/e2e/workloads/tcp.c): established connections with full receive
# windows and unsent data both ways, listeners (one with a connection not
# accepted yet), UDP with queued datagrams.
# A real dump -> kill -> restore; then every stream runs to its end with
# each byte checked by position, datagrams are answered and the listener
# accepts a new connection. Then the same with --leave-running: the
# container carries on undisturbed (its connections left repair mode).
. "$E2E_LIB"

wl=$(e2e_workload tcp)
n=$(e2e_name tcp)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "tcp: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
kill -USR1 "$(init_pid "$n")"
wait_until 30 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "tcp: OK" "workload verdict after restore"

# Dumps that fail with the connections in repair mode (right after they
# went in, and once everything was read), then --leave-running: each time
# the connections leave repair mode and go on as if nothing happened.
n2=$(e2e_name tcp-live)
"$AMBER" run --name "$n2" -- "$wl" >/dev/null
wait_until 10 grep -q "tcp: READY" "$AMBER_STATE_DIR/$n2/log"
# An outside task holding the container's TCP connection (fd 9: 127.0.0.1:7000
# accepted) is a leak (exit 3).
if [ -x /usr/bin/python3 ]; then
  cp "$(dirname "$E2E_LIB")/programs/fd_holder.py" "$E2E_BIN/fd_holder.py"
  /usr/bin/python3 "$E2E_BIN/fd_holder.py" "$(init_pid "$n2")" 9 "$E2E_BIN/held" &
  holder=$!
  wait_until 10 test -s "$E2E_BIN/held"
  rc=0
  "$AMBER" dump "$n2" -D "$E2E_TMP/img-leak" 2>"$E2E_TMP/err" || rc=$?
  [ "$rc" = 3 ] || fail "dump with an outside holder of a TCP socket: exit $rc"
  assert_contains "$(cat "$E2E_TMP/err")" "outside: pid $holder (python3): fd" "the outside holder is named"
  kill "$holder"
  wait "$holder" 2>/dev/null || true
fi
for point in dump.tcp-repair dump.write dump.finish; do
  rc=0
  AMBER_FAULT=$point "$AMBER" dump "$n2" -D "$E2E_TMP/img-$point" 2>"$E2E_TMP/err" || rc=$?
  [ "$rc" = 1 ] || fail "dump with a fault at $point: exit $rc"
  assert_contains "$(cat "$E2E_TMP/err")" "fault injected at $point" "fault at $point"
  [ ! -e "$E2E_TMP/img-$point" ] || fail "a failed dump left an image ($point)"
  ps_state_is "$n2" running || fail "container not running after a fault at $point"
done
# amber SIGKILLed with the connections in repair mode: the next amber
# command takes them out (the crash journal lists them).
for point in dump.tcp-repair dump.write; do
  rc=0
  AMBER_FAULT=$point AMBER_FAULT_MODE=kill "$AMBER" dump "$n2" -D "$E2E_TMP/imgk-$point" 2>/dev/null || rc=$?
  [ "$rc" = 137 ] || fail "dump killed at $point: exit $rc"
  out=$("$AMBER" ps 2>&1) || fail "amber ps after a dump killed at $point: $out"
  assert_contains "$out" "TCP connection(s) out of repair mode" "recovery after a dump killed at $point"
  ps_state_is "$n2" running || fail "container not running after a dump killed at $point"
done
"$AMBER" dump "$n2" -D "$E2E_TMP/img2" --leave-running
kill -USR1 "$(init_pid "$n2")"
wait_until 30 ps_state_is "$n2" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n2/log")" "tcp: OK" "workload verdict after --leave-running"

# A listener with a connection not accepted yet whose client has sent data
# is refused by name (exit 4), and the container runs on.
n3=$(e2e_name tcp-pending)
"$AMBER" run --name "$n3" -- "$wl" pending-data >/dev/null
wait_until 10 grep -q "tcp: READY" "$AMBER_STATE_DIR/$n3/log"
rc=0
"$AMBER" dump "$n3" -D "$E2E_TMP/img3" 2>"$E2E_TMP/err" || rc=$?
[ "$rc" = 4 ] || fail "dump of a listener with a pending connection: exit $rc"
assert_contains "$(cat "$E2E_TMP/err")" "connected to a listener of the container that has not accepted it yet, and data was sent: not supported yet" "pending refusal"
kill -USR1 "$(init_pid "$n3")"
wait_until 30 ps_state_is "$n3" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n3/log")" "tcp: OK" "workload verdict after a refused dump"
