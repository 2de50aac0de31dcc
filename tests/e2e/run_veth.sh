# amber run --net veth (issue 14): a veth pair to the host, the host side
# am-NAME, addresses on both sides, a default route inside; --publish
# HOSTPORT:CTRPORT (DNAT on the host, tried at the host side's address). A TCP echo
# server in the container is reached from the host over the container's
# address; then dump -> kill -> restore (the pair made again, the host side
# configured again) and it is reached again on a new connection. amber kill
# removes the host side. Host-side traffic goes only to the container's
# address, every loop bounded. (Sockets are not dumped yet: the server is
# started per connection by a shell loop holding none.)
. "$E2E_LIB"
command -v ip >/dev/null || e2e_skip "ip (iproute2) is not installed"
command -v python3 >/dev/null || e2e_skip "python3 is not installed"
command -v nft >/dev/null || e2e_skip "nft is not installed"

cat >"$E2E_BIN/echo_once.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7777)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(5)
c.sendall(c.recv(64).upper())
c.close(); s.close()
PY
cat >"$E2E_BIN/serve.sh" <<SH
while :; do
  if [ -e /tmp/serve ]; then rm -f /tmp/serve; python3 $E2E_BIN/echo_once.py; fi
  sleep 0.1
done
SH
# reach ADDR [PORT]: "HELLO" back from the server, a new connection (tries for ~10 s).
reach() {
  python3 - "$1" "${2:-7777}" <<'PY'
import socket, sys, time
for _ in range(50):
    try:
        c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
        c.settimeout(5); c.sendall(b"hello"); print(c.recv(64).decode()); sys.exit(0)
    except (ConnectionRefusedError, socket.timeout, OSError):
        time.sleep(0.2)
sys.exit("no answer from " + sys.argv[1])
PY
}

note "bad --net values are refused"
assert_fails 2 "--net bridge: not none, host, veth or veth=ADDR/PREFIX" "$AMBER" run --net bridge -- true
assert_fails 2 "a /31 has no room for the host side" "$AMBER" run --net veth=10.201.0.5/31 -- true
assert_fails 2 "--publish needs --net veth" "$AMBER" run --publish 1:2 -- true
assert_fails 2 "--publish 80: not HOSTPORT:CTRPORT" "$AMBER" run --net veth --publish 80 -- true

n=$(e2e_name v)
"$AMBER" run --name "$n" --net veth --publish 17777:7777 -- sh "$E2E_BIN/serve.sh" >/dev/null
host=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["veth"]["host_name"])' "$AMBER_STATE_DIR/$n/state.json")
assert_contains "$host" "am-" "the host side's name"
[ ${#host} -le 15 ] || fail "host side name '$host' is longer than 15 bytes"
ip -o -4 addr show dev "$host" | grep -q "inet 10.200." || fail "no 10.200.x.x address on $host"
addr=$("$AMBER" exec "$n" -- ip -o -4 addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1)
[ -n "$addr" ] || fail "no address on the container's eth0"
assert_contains "$("$AMBER" exec "$n" -- ip route)" "default via" "the default route inside"

note "reached over the veth"
"$AMBER" exec "$n" -- touch /tmp/serve
assert_eq "HELLO" "$(reach "$addr")" "the echo before the dump"
hostaddr=$(ip -o -4 addr show dev "$host" | awk '{ print $4 }' | cut -d/ -f1)
table="ip amber_$(echo "$host" | tr - _)"
"$AMBER" exec "$n" -- touch /tmp/serve
assert_eq "HELLO" "$(reach "$hostaddr" 17777)" "the echo through --publish (host side address, port 17777)"

note "dump -> kill -> restore, reached again"
for _ in $(seq 50); do "$AMBER" exec "$n" -- sh -c '! [ -e /tmp/serve ] && ! pgrep -f echo_once.py' >/dev/null && break; sleep 0.1; done
"$AMBER" dump "$n" -D "$E2E_TMP/img" >/dev/null
ip link show "$host" >/dev/null 2>&1 && fail "the host side $host is left after the dump killed the container"
nft list table $table >/dev/null 2>&1 && fail "the --publish table is left after the dump killed the container"
note "a restore failed at any fault point leaves no host side"
for p in $("$AMBER" restore --list-fault-points); do
  assert_fails 1 "fault injected at $p" env AMBER_FAULT="$p" "$AMBER" restore -D "$E2E_TMP/img"
  ip link show "$host" >/dev/null 2>&1 && fail "restore failed at $p left the host side $host"
  nft list table $table >/dev/null 2>&1 && fail "restore failed at $p left the --publish table"
  [ ! -e "$AMBER_STATE_DIR/$n" ] || fail "restore failed at $p left the container's state"
done
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
ip -o -4 addr show dev "$host" | grep -q "inet 10.200." || fail "no address on $host after restore"
"$AMBER" exec "$n" -- touch /tmp/serve
assert_eq "HELLO" "$(reach "$addr")" "the echo after restore"
"$AMBER" exec "$n" -- touch /tmp/serve
assert_eq "HELLO" "$(reach "$hostaddr" 17777)" "the echo through --publish after restore"

note "the image restored under another name while the container runs: exit 2, nothing made"
other=$(e2e_name vother)
assert_fails 2 "needs the host link $host, which the host already has" "$AMBER" restore -D "$E2E_TMP/img" --name "$other"
[ ! -e "$AMBER_STATE_DIR/$other" ] || fail "the refused restore left a state directory for $other"
"$AMBER" exec "$n" -- touch /tmp/serve
assert_eq "HELLO" "$(reach "$addr")" "the echo after the refused restore"

note "kill removes the host side"
"$AMBER" kill "$n" >/dev/null
ip link show "$host" >/dev/null 2>&1 && fail "the host side $host is left after kill"
nft list table $table >/dev/null 2>&1 && fail "the --publish table $table is left after kill"

note "--net veth=ADDR/PREFIX"
n=$(e2e_name w)
"$AMBER" run --name "$n" --net veth=10.203.7.6/29 -- sleep 100000 >/dev/null
host=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["veth"]["host_name"])' "$AMBER_STATE_DIR/$n/state.json")
assert_contains "$(ip -o -4 addr show dev "$host")" "10.203.7.1/29" "the host side's address"
assert_contains "$("$AMBER" exec "$n" -- ip -o -4 addr show dev eth0)" "10.203.7.6/29" "the container's address"
"$AMBER" kill "$n" >/dev/null
echo PASS
