# A real redis-server (Debian's) in a container, with a python3 client in the
# same container holding one TCP connection to it over 127.0.0.1: the client
# stores 10,000 keys, the container is dumped (and gone), restored, and on
# SIGUSR1 the client reads every key back on the same connection and writes
# more. Then the same with --leave-running.
. "$E2E_LIB"

redis=/usr/bin/redis-server
[ -x "$redis" ] || e2e_skip "$redis is not installed (scripts/setup.sh installs redis-server)"
[ -x /usr/bin/python3 ] || e2e_skip "python3 is not installed"
client="$E2E_BIN/redis_client.py"
cp "$(dirname "$E2E_LIB")/programs/redis_client.py" "$client"
cmd="$redis --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile '' >/dev/null & exec /usr/bin/python3 $client 10000"

for mode in kill leave-running; do
  n=$(e2e_name "redis-$mode")
  "$AMBER" run --name "$n" -- /bin/sh -c "$cmd" >/dev/null
  wait_until 30 grep -q "redis: READY" "$AMBER_STATE_DIR/$n/log"
  if [ "$mode" = kill ]; then
    pid=$(init_pid "$n")
    "$AMBER" dump "$n" -D "$E2E_TMP/img-$mode"
    assert_nothing_left "$n" "$pid"
    "$AMBER" restore -D "$E2E_TMP/img-$mode" >/dev/null
  else
    "$AMBER" dump "$n" -D "$E2E_TMP/img-$mode" --leave-running
  fi
  kill -USR1 "$(init_pid "$n")"
  wait_until 30 grep -q "redis: \(OK\|FAIL\)" "$AMBER_STATE_DIR/$n/log"
  assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "redis: OK" "client verdict ($mode)"
  "$AMBER" kill "$n" >/dev/null 2>&1 || true
done
