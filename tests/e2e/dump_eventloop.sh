# An epoll event loop (pipe, eventfds, timerfds, a signalfd, an epoll in the
# epoll, a fired EPOLLONESHOT watch, an EPOLLET one, a watch under a closed
# fd number) checkpointed while it waits in epoll_wait: after a real dump,
# kill and restore every event queued before the dump comes once, the
# periodic timer keeps ticking, a signal sent after the restore arrives
# through the signalfd, and an absolute CLOCK_REALTIME timerfd fires at its
# wall-clock time (the workload checks all of it).
. "$E2E_LIB"

wl=$(e2e_workload eventloop)
n=$(e2e_name eventloop)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "eventloop: READY" "$AMBER_STATE_DIR/$n/log"
abs=$(sed -n 's/.*READY abs=\([0-9]*\).*/\1/p' "$AMBER_STATE_DIR/$n/log")
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
now=$(date +%s%N)
if ((now > abs - 500000000)); then
  echo "restore ended $(((now - abs) / 1000000)) ms after the absolute timer's time -500 ms: too slow to test it" >&2
  exit 1
fi
kill -USR2 "$(init_pid "$n")"
while (($(date +%s%N) < abs + 1000000000)); do sleep 0.2; done
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)" || true
log=$(cat "$AMBER_STATE_DIR/$n/log")
echo "$log" | grep "eventloop:" >&2
assert_contains "$log" "eventloop: OK" "workload verdict"
