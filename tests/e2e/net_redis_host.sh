# A real redis-server (Debian's) in a --net veth container, its client on
# the host (programs/redis_client.py: RESP over one TCP connection). The
# client stores 10,000 keys; the container is dumped and gone; the client
# sends its 10,000 GETs while it is away (its kernel sends them again and
# again: the restore's network lock keeps them from meeting a namespace
# whose connection is not made yet, which would answer with a RST); the
# container is restored, and on the same connection every key comes back
# and more are written. Then the same with --leave-running.
. "$(dirname "$E2E_LIB")/net_helpers.bash"

redis=/usr/bin/redis-server
[ -x "$redis" ] || e2e_skip "$redis is not installed (scripts/setup.sh installs redis-server)"

for mode in kill leave-running; do
  n=$(e2e_name "r-$mode")
  "$AMBER" run --name "$n" --net veth -- "$redis" --port 6379 --bind 0.0.0.0 --protected-mode no --save '' \
    --appendonly no --daemonize no --logfile '' >/dev/null
  addr=$(ct_addr "$n")
  [ -n "$addr" ] || fail "no address on the container's eth0"
  out="$E2E_TMP/client-$mode.out"
  /usr/bin/python3 "$E2E_PROGRAMS/redis_client.py" 10000 "$addr" >"$out" 2>&1 &
  client=$!
  e2e_track "$client"
  wait_until 30 grep -q "redis: \(READY\|FAIL\)" "$out"
  assert_contains "$(cat "$out")" "redis: READY" "client ($mode)"
  if [ "$mode" = kill ]; then
    pid=$(init_pid "$n")
    "$AMBER" dump "$n" -D "$E2E_TMP/img-$mode"
    # Killed by the dump; a loaded machine may take a moment to end its threads.
    wait_until 20 eval "! proc_alive $pid"
    assert_nothing_left "$n" "$pid"
    kill -USR1 "$client"
    sleep 1
    "$AMBER" restore -D "$E2E_TMP/img-$mode" >/dev/null
  else
    "$AMBER" dump "$n" -D "$E2E_TMP/img-$mode" --leave-running
    kill -USR1 "$client"
  fi
  assert_unlocked "$n"
  wait_until 60 grep -q "redis: \(OK\|FAIL\)" "$out"
  wait "$client" || fail "client ($mode): $(cat "$out")"
  assert_contains "$(cat "$out")" "redis: OK" "client verdict ($mode)"
  "$AMBER" kill "$n" >/dev/null
done
