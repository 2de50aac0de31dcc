# Seal check, class 7: a shared mapping of the container also mapped (or,
# for a memfd, held) by an outside task — a file on the container's own
# /tmp tmpfs mapped MAP_SHARED from outside through /proc/PID/root, a memfd
# re-opened through /proc/PID/fd and mapped, or only held, shared anonymous
# memory mapped through /proc/PID/map_files. Reported with the
# outside pid, accepted by the remedy's --external, gone with the outside
# task. No leak: an outside private mapping of the file, nor an outside
# memfd of its own that only has the same name.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/seal_helpers.bash"

wl=$(e2e_workload seal_mapping)

note "a file on the container's /tmp mapped shared from outside"
n=$(e2e_name file)
"$AMBER" run --name "$n" -- "$wl" file /tmp/shared.bin "$E2E_BIN/f.ready" >/dev/null
seal_ready "$E2E_BIN/f.ready" >/dev/null
init=$(init_pid "$n")
seal_bg "$wl" map "/proc/$init/root/tmp/shared.bin" "$E2E_BIN/m1.ready" shared
mapper=$SEAL_PID
seal_ready "$E2E_BIN/m1.ready" >/dev/null
seal_expect_leak "$n" 7 shared-mapping "$mapper"
assert_eq "mapping:/tmp/shared.bin" "$SEAL_EXTERNAL" "--external of the file"
block=$(seal_block "$SEAL_TEXT" 7)
assert_contains "$block" "shared file mapping inode $(stat -c %i "/proc/$init/root/tmp/shared.bin") " "object"
assert_contains "$block" "inside:  pid 1 (seal_mapping, host pid $init): mapping at 0x" "the container's mapping"
assert_contains "$block" "outside: pid $mapper (seal_mapping): mapping at 0x" "the outside mapping"
seal_stop "$mapper"
seal_expect_sealed "$n"

note "an outside private mapping of the same file is no leak"
seal_bg "$wl" map "/proc/$init/root/tmp/shared.bin" "$E2E_BIN/m2.ready" private
seal_ready "$E2E_BIN/m2.ready" >/dev/null
seal_expect_sealed "$n"
seal_stop "$SEAL_PID"

note "a memfd: an outside one of the same name is no leak"
n=$(e2e_name memfd)
"$AMBER" run --name "$n" -- "$wl" memfd amber-seal "$E2E_BIN/mf.ready" >/dev/null
fd=$(seal_ready "$E2E_BIN/mf.ready")
init=$(init_pid "$n")
seal_bg "$wl" memfd amber-seal "$E2E_BIN/o.ready"
other=$SEAL_PID
ofd=$(seal_ready "$E2E_BIN/o.ready")
assert_eq "/memfd:amber-seal (deleted)" "$(readlink /proc/$other/fd/$ofd)" "the outside memfd's name"
note "nor an outside SysV segment whose shm id is the memfd's inode number"
# memfds and SysV segments share one internal mount, and a segment's inode
# number is its id: make an outside segment collide with the container's memfd.
ino=$(stat -L -c %i "/proc/$init/fd/$fd")
shm=$(e2e_workload seal_shm)
seal_bg unshare --ipc sh -c "echo $ino >/proc/sys/kernel/shm_next_id && exec $shm own 0 $E2E_BIN/s.ready"
sysv=$SEAL_PID
assert_eq "$ino" "$(seal_ready "$E2E_BIN/s.ready")" "id of the colliding segment"
assert_eq "$(awk -v i="$ino" '$6 ~ /memfd:amber-seal/ && $5 == i { print $4 }' /proc/$init/maps)" \
  "$(awk -v i="$ino" '$6 ~ /^\/SYSV/ && $5 == i { print $4 }' /proc/$sysv/maps)" "device of the memfd and the segment"
seal_expect_sealed "$n"
seal_stop "$sysv"

note "the container's memfd mapped shared from outside"
seal_bg "$wl" map "/proc/$init/fd/$fd" "$E2E_BIN/m3.ready" shared
mapper=$SEAL_PID
seal_ready "$E2E_BIN/m3.ready" >/dev/null
seal_expect_leak "$n" 7 shared-mapping "$mapper"
assert_eq "mapping:/memfd:amber-seal" "$SEAL_EXTERNAL" "--external of the memfd"
block=$(seal_block "$SEAL_TEXT" 7)
assert_contains "$block" "memfd inode " "object"
assert_contains "$block" "outside: pid $mapper (seal_mapping): mapping at 0x" "the outside mapping"
assert_not_contains "$block" "pid $other (" "the unrelated memfd of the same name"
seal_stop "$mapper"

note "the container's memfd only held open from outside"
seal_bg "$wl" hold "/proc/$init/fd/$fd" "$E2E_BIN/h.ready"
holder=$SEAL_PID
hfd=$(seal_ready "$E2E_BIN/h.ready")
run_cmd "$AMBER" check "$n"
assert_eq 3 "$STATUS" "check with the memfd held outside ($OUT $ERR)"
block=$(seal_block "$OUT" 7)
assert_contains "$block" "outside: pid $holder (seal_mapping): fd $hfd" "the outside fd on the memfd"
assert_not_contains "$block" "pid $other (" "the unrelated memfd of the same name"
seal_untouched "$n"
seal_stop "$holder"
seal_expect_sealed "$n"

note "shared anonymous memory mapped from outside through /proc/PID/map_files"
n=$(e2e_name anon)
"$AMBER" run --name "$n" -- "$wl" anon "$E2E_BIN/an.ready" >/dev/null
range=$(seal_ready "$E2E_BIN/an.ready")
init=$(init_pid "$n")
seal_bg "$wl" map "/proc/$init/map_files/$range" "$E2E_BIN/m4.ready" shared
mapper=$SEAL_PID
seal_ready "$E2E_BIN/m4.ready" >/dev/null
seal_expect_leak_text "$n" 7 shared-mapping "$mapper"
block=$(seal_block "$SEAL_TEXT" 7)
assert_contains "$block" "shared anonymous memory inode " "object"
assert_contains "$block" "\"/dev/zero (deleted)\"" "object"
assert_contains "$block" "inside:  pid 1 (seal_mapping, host pid $init): mapping at 0x${range%-*}" "the container's mapping"
seal_stop "$mapper"
seal_expect_sealed "$n"
