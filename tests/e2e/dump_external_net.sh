# A container in the host's net namespace (amber run --net host): python3
# with a TCP listener on a free port of 127.0.0.1 and an established
# connection to it, unread data on both ends (programs/tcp_pair.py).
# - the shared namespace is a leak (class 1): check and dump exit 3;
# - with --external net the connection is refused by name (exit 4, check
#   and dump alike), the container runs on; --tcp-established keeps it;
# - the image records the external: amber show lists it (text and JSON)
#   with the sockets; restore without --external net exits 2 naming it and
#   creates nothing; a wrong target exits 2 too;
# - restore --external net:PID joins that process's namespace: the
#   connection carries on with its data, the listener accepts again;
# - dumped again and restored with --external net:/var/run/netns/NAME into
#   another namespace (ip netns add): the same.
E2E_PRIVATE_MOUNTS=1  # its overlay / `ip netns add` mounts stay out of the host's namespace (lib.sh)
. "$E2E_LIB"

py=/usr/bin/python3
[ -x "$py" ] || e2e_skip "$py is not installed (scripts/setup.sh installs python3)"
prog="$E2E_BIN/tcp_pair.py"
cp "$(dirname "$E2E_LIB")/programs/tcp_pair.py" "$prog"
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

n=$(e2e_name hostnet)
"$AMBER" run --net host --name "$n" -- "$py" "$prog" "$port" >/dev/null
wait_until 20 grep -q "pair: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
assert_eq "$(readlink /proc/self/ns/net)" "$(readlink /proc/$pid/ns/net)" "--net host: the host's net namespace"

note "the host's net namespace is a leak"
run_cmd "$AMBER" check "$n"
assert_eq 3 "$STATUS" "check of a container in the host's net namespace ($ERR)"
assert_contains "$OUT" "class 1 (namespace)" "the leak's class"
assert_contains "$OUT" "net namespace net:[" "the leak's object"
assert_eq net "$(remedy_external)" "remedy"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img0"
assert_eq 3 "$STATUS" "dump without --external net ($ERR)"

note "--external net: the established connection is refused by name"
run_cmd "$AMBER" check "$n" --external net
assert_eq 4 "$STATUS" "check --external net ($OUT $ERR)"
assert_contains "$OUT" "TCP 127.0.0.1:$port -> 127.0.0.1:" "the connection is named"
assert_contains "$OUT" "in the container's external net namespace: kept only with --tcp-established" "why"
run_cmd "$AMBER" check "$n" --external net --tcp-established
assert_eq 0 "$STATUS" "check --external net --tcp-established ($OUT $ERR)"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img0" --external net
assert_eq 4 "$STATUS" "dump --external net without --tcp-established ($ERR)"
assert_contains "$ERR" "kept only with --tcp-established" "dump's refusal"
[ ! -e "$E2E_TMP/img0" ] || fail "a refused dump left an image"
assert_held_nothing "$n"

note "--external net --tcp-established: dumped, the external recorded"
img="$E2E_TMP/img"
"$AMBER" dump "$n" -D "$img" --external net --tcp-established >/dev/null
assert_nothing_left "$n" "$pid"
show=$("$AMBER" show "$img")
assert_contains "$show" "net: amber restore needs --external net:PATH|PID" "show lists the external"
assert_contains "$show" "tcp ESTABLISHED 127.0.0.1:$port -> 127.0.0.1:" "show lists the connection"
assert_contains "$show" "tcp LISTEN 127.0.0.1:$port" "show lists the listener"
assert_contains "$show" "5 bytes unread" "show gives the queued bytes"
"$AMBER" show --json "$img" | jq -e '.summary.externals == ["net"]
    and any(.summary.sockets[]; .state == "LISTEN" and .protocol == "tcp")
    and ([.summary.sockets[] | select(.state == "ESTABLISHED" and .recv_queued == 5)] | length) == 2' >/dev/null ||
  fail "show --json: externals or sockets missing: $("$AMBER" show --json "$img" | jq -c .summary)"

note "restore without the external: exit 2, nothing made"
assert_fails 2 "the image needs external net: give it with --external net:PATH|PID" "$AMBER" restore -D "$img"
assert_nothing_left "$n"
assert_fails 2 "is not a net namespace" "$AMBER" restore -D "$img" --external net:/proc/self/ns/uts
assert_fails 2 "the image declares no external uts" "$AMBER" restore -D "$img" --external net:$$ --external uts:$$
assert_fails 2 "no process" "$AMBER" restore -D "$img" --external net:999999999
assert_nothing_left "$n"

note "restore --external net:PID joins the host's namespace; the connection carries on"
"$AMBER" restore -D "$img" --external "net:$$" >/dev/null
pid=$(init_pid "$n")
assert_eq "$(readlink /proc/self/ns/net)" "$(readlink /proc/$pid/ns/net)" "restored into the host's net namespace"
kill -USR1 "$pid"
wait_until 30 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "pair: OK" "workload verdict after the restore"
"$AMBER" kill "$n" >/dev/null 2>&1 || true

if ip netns list >/dev/null 2>&1; then
  note "restore into another net namespace: --external net:/var/run/netns/NAME"
  ns="amber-e2e-$$"
  ip netns add "$ns"
  trap 'rc=$?; ip netns del "$ns" 2>/dev/null; (exit $rc); e2e_cleanup' EXIT
  ip -n "$ns" link set lo up
  m=$(e2e_name hostnet2)
  "$AMBER" run --net host --name "$m" -- "$py" "$prog" "$port" >/dev/null
  wait_until 20 grep -q "pair: READY" "$AMBER_STATE_DIR/$m/log"
  "$AMBER" dump "$m" -D "$E2E_TMP/img2" --external net --tcp-established >/dev/null
  "$AMBER" restore -D "$E2E_TMP/img2" --external "net=/var/run/netns/$ns" >/dev/null
  mpid=$(init_pid "$m")
  assert_eq "$(stat -L -c %i "/var/run/netns/$ns")" "$(stat -L -c %i /proc/$mpid/ns/net)" \
    "restored into the named namespace"
  kill -USR1 "$mpid"
  wait_until 30 ps_state_is "$m" "stopped (exit 0)"
  assert_contains "$(cat "$AMBER_STATE_DIR/$m/log")" "pair: OK" "workload verdict in the other namespace"
fi
