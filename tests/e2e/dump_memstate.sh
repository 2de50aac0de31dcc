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
