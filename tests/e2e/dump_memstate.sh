# A static program holding memory patterns in every kind of private area, a
# private file mapping it wrote to, a signal handler and mask, blocked in
# nanosleep / futex / read: dumped, killed, restored; on SIGUSR1 it checks
# everything and must not have seen EINTR or a stray errno.
. "$E2E_LIB"

wl=$(e2e_workload memstate)

stopped() { case "$(ps_state "$1")" in stopped*) return 0 ;; *) return 1 ;; esac; }

for mode in nanosleep futex read; do
  n=$(e2e_name "$mode")
  img="$E2E_TMP/img-$mode"
  note "$mode: run"
  "$AMBER" run --name "$n" -- "$wl" "$mode" /tmp/memstate.data >/dev/null
  wait_until 10 grep -q "memstate: READY" "$AMBER_STATE_DIR/$n/log"
  pid=$(init_pid "$n")
  sleep 0.3  # let it block
  note "$mode: dump"
  "$AMBER" dump "$n" -D "$img"
  assert_nothing_left "$n" "$pid"
  note "$mode: restore"
  "$AMBER" restore -D "$img" >/dev/null
  pid2=$(init_pid "$n")
  sleep 0.5
  proc_alive "$pid2" || fail "$mode: restored task died: $(cat "$AMBER_STATE_DIR/$n/exit" 2>/dev/null; cat "$AMBER_STATE_DIR/$n/log")"
  kill -USR1 "$pid2"
  wait_until 10 stopped "$n"
  log=$(cat "$AMBER_STATE_DIR/$n/log")
  assert_contains "$log" "memstate: OK mode=$mode" "$mode: workload verdict"
  assert_eq "stopped (exit 0)" "$(ps_state "$n")" "$mode: exit status"
  "$AMBER" kill "$n"
done

# Issue 3's wait4 case: the init blocked in wait4 on a live child (the
# child sleeping in pause()). After restore the child is woken and exits 42;
# wait4 must return exactly that, with no EINTR or stray errno.
n=$(e2e_name wait4)
img="$E2E_TMP/img-wait4"
note "wait4: run"
run_wait4_pair "$n"
wait_until 5 grep -q '^State:.*S (sleeping)' /proc/$pid/status
note "wait4: dump"
"$AMBER" dump "$n" -D "$img"
assert_nothing_left "$n" "$pid"
note "wait4: restore"
"$AMBER" restore -D "$img" >/dev/null
pid2=$(init_pid "$n")
child=$(cat /proc/$pid2/task/$pid2/children | xargs)
[ -n "$child" ] || fail "wait4: the restored init has no child"
assert_eq 2 "$(awk '/^NSpid:/ { print $NF }' /proc/$child/status)" "wait4: the child's pid inside"
assert_eq "S (sleeping)" "$(awk '/^State:/ { print $2, $3 }' /proc/$pid2/status)" "wait4: the init waits"
sleep 0.3
proc_alive "$pid2" || fail "wait4: restored init died: $(cat "$AMBER_STATE_DIR/$n/log")"
kill -USR1 "$child"
wait_until 10 stopped "$n"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "memstate: OK mode=wait4" "wait4: workload verdict"
assert_eq "stopped (exit 0)" "$(ps_state "$n")" "wait4: exit status"
