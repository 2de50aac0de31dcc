# The network lock when amber itself dies: a host client holds a connection
# to an echo server in a --net veth container (net_echo_host.sh) while a
# dump is SIGKILLed at each of its fault points (AMBER_FAULT_MODE=kill).
# From dump.net-lock on, the dead amber leaves the container locked; its
# journal leads the next amber command (here `amber ps`) to lift the lock
# (and the TCP repair mode) before it releases the tasks. The client pings
# through its connection while amber is dead (the lock keeps the ping out
# until the repair), and after a last real dump -> kill -> restore. The
# connection is idle as amber dies: the tasks run on at once (the kernel
# lets a tracee go when its tracer dies), and a task that used a connection
# still in repair mode then would fail (EPERM).
. "$(dirname "$E2E_LIB")/net_helpers.bash"

n=$(e2e_name k)
run_echo "$n"
start_ping s "$addr" 7000
ping s
journals() { ls "$AMBER_STATE_DIR/.journal/" 2>/dev/null | grep -c '\.pb$' || true; }

points=$("$AMBER" dump --list-fault-points)
assert_contains "$points" "dump.net-lock" "the dump's fault points"
pid=$(init_pid "$n")
taken=no
for p in $points; do
  [ "$p" = dump.net-lock ] && taken=yes
  note "dump killed at $p"
  run_cmd env AMBER_FAULT="$p" AMBER_FAULT_MODE=kill "$AMBER" dump "$n" -D "$E2E_TMP/img-$p"
  assert_eq 137 "$STATUS" "dump killed at $p: exit status (stderr: $ERR)"
  if [ "$taken" = yes ] && ! locked_pid "$pid"; then fail "dump killed at $p: no network lock left to lift"; fi
  # A ping sent now is kept out until the repair has lifted the lock.
  want=$(($(progress s) + 1))
  kill -USR1 "$client_s"
  run_cmd "$AMBER" ps
  assert_eq 0 "$STATUS" "amber ps after the dump killed at $p (stderr: $ERR)"
  assert_eq 0 "$(journals)" "journals left after the repair of the dump killed at $p"
  [ "$taken" = no ] || assert_contains "$ERR" "network lock lifted" "the repair of the dump killed at $p"
  assert_held_nothing "$n"
  assert_unlocked "$n"
  reaches s "$want" 35
done

note "and a real dump, kill, restore"
"$AMBER" dump "$n" -D "$E2E_TMP/img" >/dev/null
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
assert_unlocked "$n"
ping s
"$AMBER" kill "$n" >/dev/null
