# A real memcached 1.6 (Debian's: one process, ten threads, libevent,
# pipes and eventfds between its threads) in a --net veth container, with
# text-protocol clients (programs/mc_client.py) holding their connections
# across dump -> kill -> restore: one inside the container over 127.0.0.1,
# one on the host over the veth. Each stores 5,000 keys before the dump;
# after the restore each reads them back on the same connection, checks
# that it is the same server (pid, uptime, item count), and writes more.
# See server_helpers.bash for why the clients are quiet during the dump.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/server_helpers.bash"

memcached=/usr/bin/memcached
[ -x "$memcached" ] || e2e_skip "$memcached is not installed (scripts/setup.sh installs memcached)"
client=$(srv_prog mc_client.py)

n=$(e2e_name mc)
"$AMBER" run --name "$n" --net veth -- "$memcached" -u nobody -l 0.0.0.0 -p 11211 -m 64 >/dev/null
addr=$(srv_addr "$n")
[ -n "$addr" ] || fail "no address on the container's eth0"
srv_wait_port "$addr" 11211

note "a client inside over 127.0.0.1, a client on the host over the veth"
srv_inner_client "$n" inner "$client" 127.0.0.1 11211 5000 inner-
wait_until 60 eval "srv_file '$n' /tmp/inner.out | grep -q 'mc_client: READY'"
srv_host_client "$client" "$addr" 11211 5000 host-
wait_until 60 grep -q "mc_client: READY" "$E2E_TMP/host.out"

note "dump -> kill -> restore"
srv_dump_restore "$n" mc_client

note "the same connections after the restore"
srv_go_on "$n" mc_client
"$AMBER" kill "$n" >/dev/null
