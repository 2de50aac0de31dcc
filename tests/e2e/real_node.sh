# A real node (libuv's event loop: epoll over eventfds and pipes, 7 threads)
# with a setInterval counter, a setTimeout due after the restore, signal
# handlers and an fs.watch on a file: dumped, killed, restored; the program
# itself checks that the counter goes on, the timeout fires once at its time,
# a signal sent after the restore is handled once and a write to the watched
# file after the restore is seen.
. "$E2E_LIB"

node=$(command -v node || true)
[ -n "$node" ] || e2e_skip "node is not installed (scripts/setup.sh installs nodejs)"
prog="$E2E_BIN/counter.js"
cp "$(dirname "$E2E_LIB")/programs/counter.js" "$prog"
n=$(e2e_name node)
"$AMBER" run --name "$n" -- "$node" "$prog" >/dev/null
wait_until 10 grep -q "node: READY" "$AMBER_STATE_DIR/$n/log"
at=$(sed -n 's/.*READY at=\([0-9]*\).*/\1/p' "$AMBER_STATE_DIR/$n/log")
sleep 0.5  # its threads settle
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
(($(date +%s%3N) < at - 300)) || fail "restore ended too late to test the timeout ($(($(date +%s%3N) - at)) ms past it)"
"$AMBER" exec "$n" -- sh -c 'echo after >> /tmp/watched'
kill -USR2 "$(init_pid "$n")"
while (($(date +%s%3N) < at + 500)); do sleep 0.2; done
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)" || true
log=$(cat "$AMBER_STATE_DIR/$n/log")
echo "$log" | grep "node:" >&2
assert_contains "$log" "node: OK" "program verdict"
