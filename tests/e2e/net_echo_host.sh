# A python3 echo server in a --net veth container and three clients on the
# host, all going on across dump -> kill -> restore and a --leave-running
# dump: a TCP stream over IPv4 and one over IPv6 that never pause their
# sending (every byte must come back exactly once, in order), and UDP
# requests answered one by one. And the other way round: a stream client in
# the container to an echo server on the host, on the port the container
# itself listens on (its connection's peer matches its own wildcard
# listener, and is still outside). The network lock keeps what the peers
# send while the container is held or gone from reaching it (no data lost,
# no RST); their kernels send it again once the restored container runs.
# The IPv6 addresses are the user's: the container's is part of its
# namespace, the host side's is given back by the restore.
. "$(dirname "$E2E_LIB")/net_helpers.bash"

/usr/bin/python3 "$E2E_BIN/net_echo_server.py" 7000 >"$E2E_BIN/host-server.out" 2>&1 &
e2e_track $!
wait_until 15 grep -q "echo: READY" "$E2E_BIN/host-server.out"
n=$(e2e_name echo)
run_echo "$n" 10.200.0.1
host_link=$(ip -o link show | awk -F': ' '{ print $2 }' | grep '^am-' | cut -d@ -f1)
[ -n "$host_link" ] || fail "no host link"
"$AMBER" exec "$n" -- ip -6 addr add fd00:14::2/64 dev eth0
ip -6 addr add fd00:14::1/64 dev "$host_link" nodad
wait_until 10 eval '[ -z "$("$AMBER" exec "$n" -- ip -6 addr show tentative)" ]'

start_stream v4 "$addr" 7000
start_stream v6 fd00:14::2 7001
start_udp udp "$addr" 7002
client_up=$(init_pid "$n")  # the container's stream client: ends with it
grows v4 $((512 << 10))
grows v6 $((512 << 10))
grows udp 20
grows up $((512 << 10))

note "dump, kill, restore while the clients send"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
# Killed by the dump; a loaded machine may take a moment to end them.
wait_until 20 eval "! proc_alive $pid"
assert_nothing_left "$n" "$pid"
ip link show "$host_link" >/dev/null 2>&1 && fail "the host link is still there after the dump"
sleep 1
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
assert_eq running "$(ps_state "$n")" "state after the restore"
assert_unlocked "$n"
assert_contains "$(ip -6 addr show dev "$host_link")" "fd00:14::1/64" "the host side's IPv6 address after the restore"
client_up=$(init_pid "$n")
grows v4 $((1 << 20))
grows v6 $((1 << 20))
grows udp 20
grows up $((1 << 20))

note "and once more, with --leave-running"
"$AMBER" dump "$n" -D "$E2E_TMP/img2" --leave-running
assert_unlocked "$n"
grows v4 $((1 << 20))
grows v6 $((1 << 20))
grows udp 20
grows up $((1 << 20))
finish v4 stream
finish v6 stream
finish udp udp
touch "$E2E_BIN/up.stop"
wait_until 90 grep -q "stream: \(OK\|FAIL\)" "$AMBER_STATE_DIR/$n/log"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "stream: OK" "the container's client"
note "up: $(grep 'stream: ' "$AMBER_STATE_DIR/$n/log")"
"$AMBER" kill "$n" >/dev/null
