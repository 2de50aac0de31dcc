# The container's net namespace (issue 11 C, item 3). lo's state (down,
# MTU) comes back in the restored container, read from inside with ip(8).
# Everything a fresh net namespace does not have is refused at dump by name
# (exit 4) — lo's other flags and queue length, a link, an address, a route,
# a rule, a neighbour entry, a changed net sysctl, an nftables table, a
# legacy iptables table — the container running on.
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
refused "net namespace: lo 'lo loopback <loopback,promisc,up,running,lowerup>"
inside ip link set lo promisc off
qlen=$(inside ip -o link show lo | sed -n 's/.* qlen \([0-9]*\).*/\1/p')
[ -n "$qlen" ] || fail "no qlen in ip link show lo"
inside ip link set lo txqlen 500
refused "txqlen 500"
inside ip link set lo txqlen "$qlen"

note "a veth pair"
inside ip link add amber_v0 type veth peer name amber_v1
refused "net namespace: link amber_v"
assert_contains "$ERR" "(veth, index" "the link's kind"
inside ip link del amber_v0

note "an address on lo"
inside ip addr add 10.77.0.1/24 dev lo
refused "net namespace: address '10.77.0.1/24 inet dev 1 scope global"
inside ip addr del 10.77.0.1/24 dev lo

note "a route"
inside ip route add 10.88.0.0/16 dev lo
refused "net namespace: route '"
assert_contains "$ERR" "10.88.0.0/16" "the route"
inside ip route del 10.88.0.0/16 dev lo

note "a rule"
inside ip rule add from 10.99.0.0/16 table 100 priority 1000
refused "net namespace: rule '"
assert_contains "$ERR" "10.99.0.0/16" "the rule"
inside ip rule del from 10.99.0.0/16 table 100 priority 1000

note "a neighbour entry"
inside ip neigh add 10.55.0.5 lladdr 00:11:22:33:44:55 dev lo nud permanent
refused "net namespace: neighbour '"
assert_contains "$ERR" "lladdr 00:11:22:33:44:55 <permanent>" "the neighbour entry"
inside ip neigh flush dev lo nud permanent  # lo keeps no address length: the entry is 0.0.0.0

note "a proxy neighbour entry, a nexthop object"
inside ip neigh add proxy 10.55.0.6 dev lo
refused "net namespace: proxy neighbour entry (rtnetlink message) '"
inside ip neigh del proxy 10.55.0.6 dev lo
if inside ip nexthop add id 7 dev lo 2>/dev/null; then
  refused "net namespace: nexthop object (rtnetlink message) '"
  inside ip nexthop del id 7
fi

note "a net sysctl"
fresh=$(unshare -n cat /proc/sys/net/core/somaxconn)
inside sh -c 'echo 1234 >/proc/sys/net/core/somaxconn'
refused "net namespace: sysctl net.core.somaxconn = '1234' (a fresh namespace has '$fresh'): not supported yet"
inside sh -c "echo $fresh >/proc/sys/net/core/somaxconn"

if command -v nft >/dev/null; then
  note "an nftables table"
  inside nft add table inet amber_t
  refused "net namespace: nftables table 'inet amber_t': not supported yet"
  inside nft delete table inet amber_t
fi

if command -v iptables-legacy >/dev/null && [ -e /proc/net/ip_tables_names ]; then
  note "a legacy iptables table"
  inside iptables-legacy -A INPUT -s 10.66.0.0/16 -j ACCEPT
  refused "net namespace: legacy table 'iptables filter': not supported yet"
fi
