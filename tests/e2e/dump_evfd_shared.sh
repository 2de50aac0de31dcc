# Event fds across processes: an eventfd inherited across fork stays one
# description after dump, kill and restore (the child's write after the
# restore reaches the parent, on top of the count queued before the dump);
# an epoll inherited across fork is refused by name (exit 4) and the
# container keeps running.
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

note "an epoll inherited across fork is refused by name"
m=$(e2e_name sharedep)
"$AMBER" run --name "$m" -- "$py" -c '
import os, select, time
p = select.epoll()
e = os.eventfd(0)
p.register(e, select.EPOLLIN)
os.fork()
print("sharedep: READY", flush=True)
time.sleep(1000)' >/dev/null
both_ready() { [ "$(grep -c "sharedep: READY" "$AMBER_STATE_DIR/$m/log")" = 2 ]; }
wait_until 10 both_ready
run_cmd "$AMBER" dump "$m" -D "$E2E_TMP/img2"
assert_eq 4 "$STATUS" "dump of a shared epoll ($ERR)"
assert_contains "$ERR" "anon_inode:[eventpoll] (one epoll shared with task" "refusal names the epoll"
assert_eq running "$(ps_state "$m")" "the container still runs"
"$AMBER" kill "$m" >/dev/null
