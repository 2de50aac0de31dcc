# Seal check, class 6: a SysV shm segment of the container's ipc namespace
# attached by an outside task — one that joined the namespace, attached the
# segment and went back (class 6 alone), one that stays a member (class 1
# too), and a segment the container already marked for removal (IPC_RMID:
# the kernel then lists it with key 0 while its mappings keep the old key).
# Each is reported with the outside pid, accepted by the remedy's
# --external, and gone once the outside task is.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/seal_helpers.bash"

wl=$(e2e_workload seal_shm)

n=$(e2e_name shm)
"$AMBER" run --name "$n" -- "$wl" create 0 "$E2E_BIN/c.ready" >/dev/null
shmid=$(seal_ready "$E2E_BIN/c.ready")
init=$(init_pid "$n")
first_init=$init

note "an outside task attaches the segment and leaves the ipc namespace again"
seal_bg "$wl" attach "$init" "$shmid" "$E2E_BIN/a1.ready" back
att=$SEAL_PID
seal_ready "$E2E_BIN/a1.ready" >/dev/null
assert_ne "$(readlink /proc/$init/ns/ipc)" "$(readlink /proc/$att/ns/ipc)" "the attacher's ipc namespace"
seal_expect_leak "$n" 6 sysv-shm "$att"
assert_eq "shm:$shmid" "$SEAL_EXTERNAL" "--external of the segment"
assert_not_contains "$SEAL_TEXT" "class 1 (" "class 6 alone"
block=$(seal_block "$SEAL_TEXT" 6)
assert_contains "$block" "SysV shm segment shmid $shmid in ipc:[" "object"
assert_contains "$block" "2 attachments, 1 in the container" "object"
assert_contains "$block" "inside:  pid 1 (seal_shm, host pid $init): mapping at 0x" "the container's attachment"
assert_contains "$block" "outside: pid $att (seal_shm): mapping at 0x" "the outside attachment"
seal_stop "$att"
seal_expect_sealed "$n"

note "an outside task attaches it and stays in the ipc namespace (class 1 too)"
seal_bg "$wl" attach "$init" "$shmid" "$E2E_BIN/a2.ready" stay
att=$SEAL_PID
seal_ready "$E2E_BIN/a2.ready" >/dev/null
seal_expect_leak "$n" 6 sysv-shm "$att" ipc
assert_contains "$(seal_block "$SEAL_TEXT" 1)" "outside: pid $att (seal_shm): member" "class 1 beside class 6"
seal_stop "$att"
seal_expect_sealed "$n"

note "a keyed segment marked for removal while attached"
n=$(e2e_name rmid)
"$AMBER" run --name "$n" -- "$wl" create 0x5ea1 "$E2E_BIN/r.ready" rmid >/dev/null
shmid=$(seal_ready "$E2E_BIN/r.ready")
init=$(init_pid "$n")
grep -q '^/SYSV00005ea1' <(awk '{ print $6 }' /proc/$init/maps) || fail "the container's mapping is not /SYSV00005ea1"
seal_expect_sealed "$n"
seal_bg "$wl" attach "$init" "$shmid" "$E2E_BIN/a3.ready" back
att=$SEAL_PID
seal_ready "$E2E_BIN/a3.ready" >/dev/null
seal_expect_leak_text "$n" 6 sysv-shm "$att"
block=$(seal_block "$SEAL_TEXT" 6)
assert_contains "$block" "inside:  pid 1 (seal_shm, host pid $init): mapping at 0x" "the container's attachment"
# The first container's segment has the same id (the first of a fresh ipc
# namespace) and the same mapping name: it is not a holder of this one.
assert_eq "$shmid" "$(awk '$6 ~ /^\/SYSV/ { print $5 }' /proc/$first_init/maps)" "the other container's segment id"
assert_not_contains "$block" "pid $first_init (" "a same-id segment of another ipc namespace"
seal_stop "$att"
seal_expect_sealed "$n"

note "sealed again, the container with its removed-but-attached segment is dumped and restored"
maps_before=$(awk '$6 ~ /^\/SYSV/ { print $1, $2, $5, $6 }' /proc/$init/maps)
"$AMBER" dump "$n" -D "$E2E_TMP/img-rmid"
"$AMBER" restore -D "$E2E_TMP/img-rmid" >/dev/null
init2=$(init_pid "$n")
assert_eq "$maps_before" "$(awk '$6 ~ /^\/SYSV/ { print $1, $2, $5, $6 }' /proc/$init2/maps)" \
  "the segment's attach (address, id, name) after restore"
shm_row=$("$AMBER" exec "$n" -- cat /proc/sysvipc/shm | awk -v id="$shmid" '$2 == id { print $1, $3, $4, $7 }')
assert_eq "0 1600 65536 1" "$shm_row" "the segment after restore: key 0, marked for removal (01000), size, 1 attach"
"$AMBER" kill "$n" >/dev/null
