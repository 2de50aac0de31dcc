# The container's net namespace dumped and restored whole (issue 14): a
# veth pair inside the container (MTU, MAC, up/down), IPv4 and IPv6
# addresses (one with finite lifetimes), routes in two tables, a rule, a
# permanent neighbour entry and a proxy one, net sysctls (namespace-wide and
# per device) and an nftables table. After dump -> kill -> restore, ip(8),
# the sysctls and `nft list ruleset` inside show what they showed before.
# (This kernel has no dummy driver: veth pairs stand in for dummy links.)
. "$E2E_LIB"
command -v ip >/dev/null || e2e_skip "ip (iproute2) is not installed"
command -v nft >/dev/null || e2e_skip "nft is not installed"

n=$(e2e_name full)
"$AMBER" run --name "$n" -- sleep 100000 >/dev/null
inside() { "$AMBER" exec "$n" -- "$@"; }

note "build the namespace"
inside sh -ec '
  ip link add va type veth peer name vb
  ip link set va address 02:00:00:00:aa:01 mtu 1400
  ip link set vb address 02:00:00:00:aa:02
  ip link add vc type veth peer name vd   # left down
  ip link set va up; ip link set vb up
  ip addr add 10.5.0.1/24 dev va
  ip addr add 10.5.1.1/24 dev va valid_lft 3000 preferred_lft 2000
  ip addr add fd00:5::1/64 dev va
  ip addr add 10.77.0.1/32 dev lo
  ip route add 10.6.0.0/16 via 10.5.0.2
  ip route add 10.8.0.0/16 via 10.5.0.3 dev va metric 50
  ip route add default via 10.5.0.3 table 100
  ip -6 route add fd00:6::/64 via fd00:5::2
  ip rule add from 10.7.0.0/16 table 100 priority 1000
  ip neigh add 10.5.0.9 lladdr 00:11:22:33:44:55 dev va nud permanent
  ip neigh add proxy 10.5.0.10 dev va
  echo 1 >/proc/sys/net/ipv4/ip_forward
  echo 1234 >/proc/sys/net/core/somaxconn
  echo 2 >/proc/sys/net/ipv4/conf/va/rp_filter
  echo 0 >/proc/sys/net/ipv6/conf/vb/accept_ra
  nft add table inet amber_t
  nft add chain inet amber_t input "{ type filter hook input priority 0; policy accept; }"
  nft add rule inet amber_t input tcp dport 7 counter accept
  nft add set inet amber_t blocked "{ type ipv4_addr; }"
  nft add element inet amber_t blocked "{ 10.9.9.9 }"
'
# Everything ip(8), the sysctls and nft say, lifetimes aside (they count down).
snapshot() {
  inside sh -c '
    for i in $(seq 50); do ip -6 addr | grep -q tentative || break; sleep 0.1; done
    ip -d link; ip -d addr; ip -d route show table all | sort; ip -6 -d route show table all | sort; ip rule; ip -6 rule
    ip neigh show nud permanent; ip neigh show proxy
    for f in ipv4/ip_forward core/somaxconn ipv4/conf/va/rp_filter ipv6/conf/vb/accept_ra ipv4/conf/all/forwarding; do
      echo "$f=$(cat /proc/sys/net/$f)"; done
    nft list ruleset' | sed -E 's/(valid|preferred)_lft [0-9]+sec/\1_lft N/g'
}
before=$(snapshot)
assert_contains "$before" "10.5.1.1/24" "the address with lifetimes"
assert_contains "$before" "table inet amber_t" "the nftables table"
lft_before=$(inside ip -o addr show dev va | sed -n 's/.*10\.5\.1\.1.* valid_lft \([0-9]*\)sec.*/\1/p')

"$AMBER" dump "$n" -D "$E2E_TMP/img"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
after=$(snapshot)
if [ "$before" != "$after" ]; then
  diff <(echo "$before") <(echo "$after") >&2 || true
  fail "the net namespace differs after restore"
fi
lft_after=$(inside ip -o addr show dev va | sed -n 's/.*10\.5\.1\.1.* valid_lft \([0-9]*\)sec.*/\1/p')
[ -n "$lft_after" ] && [ "$lft_after" -le "$lft_before" ] && [ "$lft_after" -gt $((lft_before - 120)) ] ||
  fail "valid lifetime of 10.5.1.1: $lft_before before, '$lft_after' after"

note "traffic over the restored pair (inside, bounded)"
inside python3 -c '
import socket
a = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); a.bind(("fd00:5::1", 7007)); a.settimeout(5)
b = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); b.settimeout(5)
b.sendto(b"ping", ("fd00:5::1", 7007))
assert a.recvfrom(16)[0] == b"ping"
' || fail "no UDP datagram to the restored fd00:5::1"
"$AMBER" kill "$n" >/dev/null

note "restore verification: an image whose namespace does not come back fails, leaving nothing"
edit="$WORKLOADS/image_edit"
[ -x "$edit" ] || fail "image_edit not built"
"$edit" "$E2E_TMP/img" decode container.img >"$E2E_TMP/meta.txt"
grep -q 'routes: "inet 10.6.0.0/16' "$E2E_TMP/meta.txt" || fail "no verified route 10.6.0.0/16 in the image"
sed -i 's|routes: "inet 10.6.0.0/16|routes: "inet 10.66.0.0/16|' "$E2E_TMP/meta.txt"
"$edit" "$E2E_TMP/img" encode container.img <"$E2E_TMP/meta.txt"
assert_fails 1 "net namespace: restored, route 'inet 10.66.0.0/16" "$AMBER" restore -D "$E2E_TMP/img"
[ ! -e "$AMBER_STATE_DIR/$n" ] || fail "the failed restore left the container's state"
echo PASS
