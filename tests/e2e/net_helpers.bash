# Sourced first by the host-client scenarios (net_*.sh), in place of lib.sh.
# Each runs in a net namespace of its own, made here: that namespace is the
# "host" of its containers (amber's host links, the 10.200.0.0/30 that
# `--net veth` picks, the clients), so nothing a scenario sends leaves it,
# and scenarios running at the same time never share an address or port.
# And in a private mount namespace: a container without a rootfs inherits
# the mounts of the one amber runs in, and a mount another scenario makes
# meanwhile (and removes before the dump) would look like the container's.
if [ -z "${E2E_OWN_NETNS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces, cgroups, mounts)"; exit 77; }
  exec env E2E_OWN_NETNS=1 unshare --net --mount --propagation private -- bash "$0" "$@"
fi
. "$E2E_LIB"
command -v ip >/dev/null || e2e_skip "ip (iproute2) is not installed"
command -v nft >/dev/null || e2e_skip "nft (nftables) is not installed"
command -v nsenter >/dev/null || e2e_skip "nsenter (util-linux) is not installed"
[ -x /usr/bin/python3 ] || e2e_skip "python3 is not installed"
ip link set lo up
E2E_PROGRAMS="$(dirname "$E2E_LIB")/programs"
# The net_* programs run from a copy a container sees too (they import
# net_client.py), and leave no __pycache__ anywhere.
cp "$E2E_PROGRAMS"/net_*.py "$E2E_BIN/"
export PYTHONDONTWRITEBYTECODE=1

# ct_addr NAME: the IPv4 address of container NAME's eth0.
ct_addr() { "$AMBER" exec "$1" -- ip -o -4 addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1; }

# run_echo NAME [UPSTREAM]: container NAME on a veth runs
# programs/net_echo_server.py (TCP 7000, TCP over IPv6 7001, UDP 7002);
# sets `addr`, its IPv4 address. With UPSTREAM (an address of the host
# side: the veth is then 10.200.0.0/30), a stream client in the container
# too, to the echo server at UPSTREAM port 7000 (programs/net_stream_client.py,
# files $E2E_BIN/up.*, verdict in the container's log).
run_echo() {
  local server="/usr/bin/python3 $E2E_BIN/net_echo_server.py 7000"
  if [ -n "${2:-}" ]; then
    "$AMBER" run --name "$1" --net veth=10.200.0.2/30 -- /bin/sh -c "/usr/bin/python3 $E2E_BIN/net_stream_client.py \
      $2 7000 $E2E_BIN/up.status $E2E_BIN/up.stop & exec $server" >/dev/null
  else
    "$AMBER" run --name "$1" --net veth -- $server >/dev/null
  fi
  wait_until 15 grep -q "echo: READY" "$AMBER_STATE_DIR/$1/log"
  addr=$(ct_addr "$1")
  [ -n "$addr" ] || fail "no address on the container's eth0"
}

# locked_pid PID: the net namespace of process PID has the network lock.
locked_pid() { nsenter -t "$1" -n nft list tables | grep -q "netdev amber_netlock"; }
# locked NAME: so has container NAME's (asks `amber ps`: which first
# repairs what a killed amber left).
locked() { locked_pid "$(init_pid "$1")"; }

# assert_unlocked NAME: container NAME's net namespace has no network lock.
assert_unlocked() {
  if locked "$1"; then fail "$1: the network lock is still there"; fi
}

# start_stream ID ADDR PORT: a host client streaming through the echo
# server at ADDR PORT (programs/net_stream_client.py), in the background;
# its files are $E2E_BIN/ID.{status,stop,out}.
start_stream() {
  rm -f "$E2E_BIN/$1.stop" "$E2E_BIN/$1.status"
  /usr/bin/python3 "$E2E_BIN/net_stream_client.py" "$2" "$3" "$E2E_BIN/$1.status" "$E2E_BIN/$1.stop" \
    >"$E2E_BIN/$1.out" 2>&1 &
  eval "client_$1=$!"
  e2e_track $!
}
# start_udp ID ADDR PORT: the same with programs/net_udp_client.py.
start_udp() {
  rm -f "$E2E_BIN/$1.stop" "$E2E_BIN/$1.status"
  /usr/bin/python3 "$E2E_BIN/net_udp_client.py" "$2" "$3" "$E2E_BIN/$1.status" "$E2E_BIN/$1.stop" \
    >"$E2E_BIN/$1.out" 2>&1 &
  eval "client_$1=$!"
  e2e_track $!
}

# start_ping ID ADDR PORT: the same with programs/net_ping_client.py (an
# idle connection); `ping ID` then makes it ping once, within 30 s.
start_ping() {
  rm -f "$E2E_BIN/$1.status"
  /usr/bin/python3 "$E2E_BIN/net_ping_client.py" "$2" "$3" "$E2E_BIN/$1.status" >"$E2E_BIN/$1.out" 2>&1 &
  eval "client_$1=$!"
  e2e_track $!
  wait_until 15 test -s "$E2E_BIN/$1.status"
}
ping() {
  local want=$(($(progress "$1") + 1))
  kill -USR1 "$(eval echo "\$client_$1")"
  reaches "$1" "$want" 35
}

# progress ID: bytes the stream client ID got back (the UDP one: answers).
progress() {
  local v
  v=$(cat "$E2E_BIN/$1.status" 2>/dev/null || echo "0 0")
  set -- $v
  echo "${2:-$1}"
}
# reaches ID TARGET SECONDS: waits until client ID's progress is TARGET;
# fails if it ends meanwhile.
reaches() {
  local deadline=$(($(date +%s) + $3)) pid
  pid=$(eval echo "\$client_$1")
  until [ "$(progress "$1")" -ge "$2" ]; do
    kill -0 "$pid" 2>/dev/null || fail "client $1 ended: $(cat "$E2E_BIN/$1.out")"
    [ "$(date +%s)" -lt "$deadline" ] || fail "client $1 made no progress for $3 s: $(progress "$1") of $2"
    sleep 0.1
  done
}
# grows ID AMOUNT [SECONDS]: client ID makes AMOUNT more progress (bytes
# echoed, or answers) than now within SECONDS (30).
grows() { reaches "$1" $(($(progress "$1") + $2)) "${3:-30}"; }
# finish ID WORD: client ID stops, ends within 90 s and says "WORD: OK".
finish() {
  local pid
  pid=$(eval echo "\$client_$1")
  touch "$E2E_BIN/$1.stop"
  wait_until 90 eval "! kill -0 $pid"
  wait "$pid" || true
  assert_contains "$(cat "$E2E_BIN/$1.out")" "$2: OK" "client $1"
  note "$1: $(cat "$E2E_BIN/$1.out")"
}
