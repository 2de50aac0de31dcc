# Half-closed TCP connections and socket options inside a container
# (workloads/tcp_states.c): CLOSE_WAIT / FIN_WAIT2 both ways over IPv4,
# FIN_WAIT1 behind unsent data over IPv6, listeners and UDP sockets (IPv4
# and IPv6, bound and connected, datagrams queued) with SO_REUSEADDR/PORT,
# buffer sizes, keepalive timers, TCP_NODELAY, IP_TOS, IPV6_TCLASS,
# IPV6_V6ONLY. A real dump -> kill -> restore: every state and option is
# back, the data and the ends of file come as they would have; the same
# after a dump with --leave-running. A connection closed both ways whose
# socket the program still holds is refused by name.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/verdict_helpers.bash"

n=$(e2e_name states)
wl_start "$n" tcp_states
wl_dump_restore "$n" tcp_states

n2=$(e2e_name states-live)
wl_start "$n2" tcp_states
wl_leave_running "$n2" tcp_states

n3=$(e2e_name states-closed)
wl_start "$n3" tcp_states closed
wl_refused "$n3" tcp_states "its connection has ended (closed both ways, or reset) and the program still holds it"
