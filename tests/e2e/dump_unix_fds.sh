# Files in flight in unix socket queues (workloads/unix_fds.c): regular
# files (one also held by the task: one description after the restore),
# pipe ends (the other end in a child, or closed everywhere), sockets (one
# with a file in flight in its own queue, one an accepted connection) and
# two files in one message, on datagram, stream and seqpacket sockets.
# A real dump -> kill -> restore: each is received in its place, with its
# position, data and peer. A dump with --leave-running changes nothing the
# workload can see. An epoll in flight is refused by name.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/verdict_helpers.bash"

n=$(e2e_name fds)
wl_start "$n" unix_fds
wl_dump_restore "$n" unix_fds

n2=$(e2e_name fds-live)
wl_start "$n2" unix_fds
wl_leave_running "$n2" unix_fds

n3=$(e2e_name fds-epoll)
wl_start "$n3" unix_fds refuse
wl_refused "$n3" unix_fds "(epoll) in flight (SCM_RIGHTS): not supported yet"
