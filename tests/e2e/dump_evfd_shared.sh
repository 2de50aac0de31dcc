# Event fds across processes: an eventfd inherited across fork stays one
# description after dump, kill and restore (the child's write after the
# restore reaches the parent, on top of the count queued before the dump);
# an epoll inherited across fork whose target only the child still holds
# keeps its EPOLLET watch (the child's write after the restore wakes the
# parent's epoll_wait once).
. "$E2E_LIB"

py=/usr/bin/python3
[ -x "$py" ] || e2e_skip "$py is not installed (scripts/setup.sh installs python3)"

n=$(e2e_name shared)
"$AMBER" run --name "$n" -- "$py" -c '
import os, signal
e = os.eventfd(0, os.EFD_NONBLOCK)
os.eventfd_write(e, 4)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
pid = os.fork()
if pid == 0:
    signal.sigwait({signal.SIGUSR1})
    os.eventfd_write(e, 10)
    os._exit(0)
print("shared: READY", flush=True)
signal.sigwait({signal.SIGUSR1})
os.kill(pid, signal.SIGUSR1)
os.waitpid(pid, 0)
v = os.eventfd_read(e)
print("shared: OK" if v == 14 else "shared: FAIL count %d" % v, flush=True)
' >/dev/null
wait_until 10 grep -q "shared: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)" || true
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "shared: OK" "workload verdict"

note "an epoll inherited across fork, its target held by the child only"
m=$(e2e_name sharedep)
"$AMBER" run --name "$m" -- "$py" -c '
import os, select, signal
p = select.epoll()
e = os.eventfd(0, os.EFD_NONBLOCK)
p.register(e, select.EPOLLIN | select.EPOLLET)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
pid = os.fork()
if pid == 0:
    print("sharedep: READY", flush=True)
    signal.sigwait({signal.SIGUSR1})
    os.eventfd_write(e, 7)
    signal.sigwait({signal.SIGUSR1})
    os._exit(0 if os.eventfd_read(e) == 7 else 1)
ev = e
os.close(e)  # the watch lives on: the child holds the eventfd
print("sharedep: READY", flush=True)
signal.sigwait({signal.SIGUSR1})
quiet = p.poll(0.2)
os.kill(pid, signal.SIGUSR1)
got = p.poll(5)
again = p.poll(0.2)
os.kill(pid, signal.SIGUSR1)
_, st = os.waitpid(pid, 0)
ok = quiet == [] and got == [(ev, select.EPOLLIN)] and again == [] and st == 0
print("sharedep: OK" if ok else "sharedep: FAIL %r %r %r %d" % (quiet, got, again, st), flush=True)
' >/dev/null
both_ready() { [ "$(grep -c "sharedep: READY" "$AMBER_STATE_DIR/$m/log")" = 2 ]; }
wait_until 10 both_ready
pid=$(init_pid "$m")
"$AMBER" dump "$m" -D "$E2E_TMP/img2"
assert_nothing_left "$m" "$pid"
"$AMBER" restore -D "$E2E_TMP/img2" >/dev/null
kill -USR1 "$(init_pid "$m")"
wait_until 10 ps_state_is "$m" "stopped (exit 0)" || true
assert_contains "$(cat "$AMBER_STATE_DIR/$m/log")" "sharedep: OK" "workload verdict"
