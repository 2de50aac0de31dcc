# POSIX timers (issue 13): a periodic CLOCK_MONOTONIC timer, one aimed at a
# second thread (SIGEV_THREAD_ID), an absolute CLOCK_REALTIME one, a
# SIGEV_NONE CLOCK_BOOTTIME one and one on the process's CPU-time clock
# survive a real dump -> kill -> restore with the same ids, sigevents and
# clocks; the workload checks they tick again (in the right thread, with
# their ids in siginfo) and that the absolute timer fires at its wall-clock
# time, not early (workloads/ptimers.c).
. "$E2E_LIB"

wl=$(e2e_workload ptimers)
n=$(e2e_name ptimers)
# /proc/PID/timers without the notify targets' pids (host numbers differ).
timers() { sed 's/\(notify: [a-z]*\/[a-z]*\)\..*/\1/' /proc/"$1"/timers | paste -sd' '; }
"$AMBER" run --name "$n" -- "$wl" 8 >/dev/null
wait_until 10 grep -q "ptimers: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
before=$(timers "$pid")
assert_contains "$before" "ClockID: 0" "timers before the dump"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid=$(init_pid "$n")
assert_eq "$before" "$(timers "$pid")" "/proc/PID/timers after the restore"
kill -USR1 "$pid"
wait_until 20 eval 'ps_state_is "$n" "stopped (exit 0)" || ps_state_is "$n" "stopped (exit 1)"'
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "ptimers: OK" "workload verdict"
note "$(grep "ptimers: OK" "$AMBER_STATE_DIR/$n/log")"
