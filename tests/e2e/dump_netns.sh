# The container's net namespace (issue 11 C, item 3; issue 14). lo's state
# (down, MTU) comes back in the restored container, read from inside with
# ip(8). What amber cannot restore yet is refused at dump by name (exit 4),
# the container running on: lo's other flags and queue length, a link of
# another kind (bridge), a veth pair's end that is a bridge port, a nexthop
# object, a legacy iptables table. (dump_netns_full.sh: what is restored.)
. "$E2E_LIB"
command -v ip >/dev/null || e2e_skip "ip (iproute2) is not installed"

note "lo down with MTU 1500: restored so"
n=$(e2e_name lo)
"$AMBER" run --name "$n" -- sleep 100000 >/dev/null
"$AMBER" exec "$n" -- sh -c 'ip link set lo mtu 1500 && ip link set lo down'
lo_state() { "$AMBER" exec "$1" -- ip -o link show lo | sed 's/qdisc.*//'; }
before=$(lo_state "$n")
assert_contains "$before" "mtu 1500" "lo before the dump"
assert_not_contains "$before" ",UP" "lo before the dump"
v4=$("$AMBER" exec "$n" -- ip -o -4 addr show dev lo | awk '{ print $4 }')
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_contains "$("$AMBER" show "$E2E_TMP/img")" "net: lo down, MTU 1500, 127.0.0.1/8" "amber show"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
assert_eq "$before" "$(lo_state "$n")" "lo after restore"
assert_eq "$v4" "$("$AMBER" exec "$n" -- ip -o -4 addr show dev lo | awk '{ print $4 }')" "lo's IPv4 address after restore"
"$AMBER" kill "$n" >/dev/null

n=$(e2e_name net)
"$AMBER" run --name "$n" -- sleep 100000 >/dev/null
refused() {  # MESSAGE-PART: the dump exits 4 naming the object; the container runs on
  assert_fails 4 "$1" "$AMBER" dump "$n" -D "$E2E_TMP/refused"
  [ ! -e "$E2E_TMP/refused" ] || fail "a refused dump left an image"
  assert_held_nothing "$n"
}
inside() { "$AMBER" exec "$n" -- "$@"; }

note "lo in promiscuous mode, lo with another queue length"
inside ip link set lo promisc on
refused "net namespace: link 'lo loopback <loopback,promisc,up,running,lowerup>"
inside ip link set lo promisc off
qlen=$(inside ip -o link show lo | sed -n 's/.* qlen \([0-9]*\).*/\1/p')
[ -n "$qlen" ] || fail "no qlen in ip link show lo"
inside ip link set lo txqlen 500
refused "txqlen 500"
inside ip link set lo txqlen "$qlen"

note "a bridge"
inside ip link add amber_br type bridge
refused "net namespace: link amber_br (bridge, index"
inside ip link del amber_br

note "a nexthop object"
if inside ip nexthop add id 7 dev lo 2>/dev/null; then
  refused "net namespace: nexthop object (rtnetlink message) '"
  inside ip nexthop del id 7
fi

note "what is supported is not refused any more: a veth pair, an address, a sysctl"
inside ip link add amber_v0 type veth peer name amber_v1
inside ip addr add 10.77.0.1/24 dev amber_v0
inside sh -c 'echo 1234 >/proc/sys/net/core/somaxconn'
if command -v nft >/dev/null; then
  # The network lock's table is amber's own: a container that has one
  # already is refused by name (its links would be unlocked at the end).
  inside nft add table netdev amber_netlock
  assert_fails 1 "network lock: the net namespace has a table netdev amber_netlock already" \
    "$AMBER" dump "$n" -D "$E2E_TMP/refused"
  assert_held_nothing "$n"
  inside nft delete table netdev amber_netlock
  inside nft add table ip amber_own
fi
"$AMBER" dump "$n" -D "$E2E_TMP/ok" --leave-running >/dev/null
assert_held_nothing "$n"
if command -v nft >/dev/null; then
  # The lock the dump took (its links are amber_v0 and amber_v1) is never
  # dumped, and gone again; the container's own tables are dumped.
  meta=$("$WORKLOADS/image_edit" "$E2E_TMP/ok" decode container.img)
  assert_contains "$meta" "table ip amber_own" "the container's nftables table in the image"
  assert_not_contains "$meta" "amber_netlock" "the image"
  assert_not_contains "$(inside nft list tables)" "amber_netlock" "the container after the dump"
  inside nft delete table ip amber_own
fi
rm -rf "$E2E_TMP/ok"

if command -v iptables-legacy >/dev/null && [ -e /proc/net/ip_tables_names ]; then
  note "a legacy iptables table"
  inside iptables-legacy -A INPUT -s 10.66.0.0/16 -j ACCEPT
  refused "net namespace: legacy table 'iptables filter': not supported yet"
fi
"$AMBER" kill "$n" >/dev/null
echo PASS
