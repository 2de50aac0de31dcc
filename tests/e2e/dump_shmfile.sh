# POSIX shared memory and a named semaphore unlinked while in use (files of
# the container's /dev/shm mapped MAP_SHARED): after a real dump, kill and
# restore each is one object again for every mapping and fd of it (a write
# through the fd shows in the other process's mapping, the semaphore held
# by one process blocks the other), and the counter both add to is right.
# With them: /dev/zero mapped shared, an unlinked /dev/shm file mapped
# privately (its own pages and the file's both back).
. "$E2E_LIB"

wl=$(e2e_workload shmfile)
n=$(e2e_name shmfile)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 20 grep -q "shmfile: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
shown=$("$AMBER" show "$E2E_TMP/img")
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
init=$(init_pid "$n")
maps=$(cat "/proc/$init/maps")
assert_contains "$maps" "/dev/shm/amber-shm-1 (deleted)" "the shm object is an unlinked file of /dev/shm again"
assert_contains "$maps" "/dev/shm/sem." "the semaphore is an unlinked file of /dev/shm again"
assert_contains "$maps" "/dev/shm/amber-priv-1 (deleted)" "the privately mapped unlinked file"
assert_contains "$(readlink "/proc/$init/fd/7")" "/dev/shm/amber-shm-1 (deleted)" "fd 7"
kill -USR1 "$init"
wait_until 30 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "shmfile: OK" "workload verdict"
