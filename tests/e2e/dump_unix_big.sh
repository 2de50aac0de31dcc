# Unix socket pairs with 1 MiB queued each way (workloads/unix_big.c):
# stream, datagram and seqpacket, message boundaries kept, every byte
# checked by position after a real dump -> kill -> restore; shutdown states
# with data queued and the options that change behaviour.
# Then a listener whose two connections not accepted yet carry data: refused
# by name (no kernel interface reads a queue not accepted without accepting
# it), and the container runs on untouched.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/verdict_helpers.bash"

n=$(e2e_name big)
wl_start "$n" unix_big
wl_dump_restore "$n" unix_big

n2=$(e2e_name pending)
wl_start "$n2" unix_big pending-data
wl_refused "$n2" unix_big "data sent on a connection not accepted yet"
