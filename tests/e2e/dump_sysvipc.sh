# SysV IPC objects of the container's own ipc namespace (issue 13, "IPC
# namespace"): shm segments (content, attached at the same addresses in a
# parent and its fork child, one marked IPC_RMID but still attached, one
# attached nowhere), a semaphore set's values and a message queue of 100
# messages of mixed types and sizes, all with their ids, keys and modes,
# after a real dump -> kill -> restore; the workload checks them from inside
# and the restore's own check compares them with the image. SEM_UNDO
# adjustments: dump_semundo.sh; mq fds: dump_mqfd.sh.
. "$E2E_LIB"

wl=$(e2e_workload sysvipc)
n=$(e2e_name ipc)
"$AMBER" run --name "$n" -- "$wl" objects >/dev/null
wait_until 10 grep -q "sysvipc: RMID" "$AMBER_STATE_DIR/$n/log"
ids_before=$(grep "sysvipc: READY" "$AMBER_STATE_DIR/$n/log")
ipcs_of() { "$AMBER" exec "$1" -- sh -c 'cat /proc/sysvipc/shm /proc/sysvipc/sem /proc/sysvipc/msg' |
  awk '{ print $1, $2, $3, $4 }'; }  # key, id, perms, size/nsems/cbytes
before=$(ipcs_of "$n")
pid=$(init_pid "$n")
child=$(cat /proc/$pid/task/$pid/children | xargs)
maps_before=$(grep SYSV /proc/$pid/maps; grep SYSV /proc/$child/maps)

note "a dump failing after the ipc namespace was read leaves the container running as it was"
run_cmd env AMBER_FAULT=dump.sem-undo "$AMBER" dump "$n" -D "$E2E_TMP/img-f"
assert_eq 1 "$STATUS" "dump with fault dump.sem-undo (stderr: $ERR)"
assert_held_nothing "$n"
assert_eq "$before" "$(ipcs_of "$n")" "SysV objects after the failed dump (nothing consumed)"

"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
ls "$E2E_TMP/img/ipc/" | grep -q '^shm-.*\.bin$' || fail "no shm content in the image: $(ls "$E2E_TMP/img")"

for p in restore.ipc-objects restore.ipc; do
  note "a restore failing at $p leaves nothing behind"
  run_cmd env AMBER_FAULT="$p" "$AMBER" restore -D "$E2E_TMP/img"
  assert_eq 1 "$STATUS" "restore with fault $p (stderr: $ERR)"
  assert_nothing_left "$n"
done

"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
child2=$(cat /proc/$pid2/task/$pid2/children | xargs)
assert_eq "$before" "$(ipcs_of "$n")" "keys, ids, modes and sizes of the SysV objects after restore"
assert_eq "$(echo "$maps_before" | awk '{ print $1, $2, $6, $7 }')" \
  "$( (grep SYSV /proc/$pid2/maps; grep SYSV /proc/$child2/maps) | awk '{ print $1, $2, $6, $7 }')" \
  "SysV attaches (addresses, modes, names) of parent and child after restore"

kill -USR1 "$pid2"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
log=$(cat "$AMBER_STATE_DIR/$n/log")
assert_contains "$log" "sysvipc: CHILD OK" "the child sees the parent's writes"
assert_contains "$log" "sysvipc: OK" "workload verdict"
assert_not_contains "$log" "FAIL" "workload failures"
"$AMBER" kill "$n" >/dev/null 2>&1 || true

note "a POSIX queue registered with mq_notify is refused by name (its mq fd alone is not); the container runs on"
n=$(e2e_name mqn)
"$AMBER" run --name "$n" -- "$wl" mqfd notify >/dev/null
wait_until 10 grep -q "sysvipc: READY" "$AMBER_STATE_DIR/$n/log"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/mqn"
assert_eq 4 "$STATUS" "exit status of the refused dump (stderr: $ERR)"
assert_contains "$ERR" "ipc namespace: POSIX message queue /amber_fdq: registered for mq_notify by task 1:" "the report"
assert_not_contains "$ERR" "mq_open fd" "the report"
[ ! -e "$E2E_TMP/mqn" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
"$AMBER" kill "$n" >/dev/null

note "a POSIX message queue with messages of several priorities, no container mount of mqueue"
n=$(e2e_name mq)
"$AMBER" run --name "$n" -- "$wl" mq >/dev/null
wait_until 10 grep -q "sysvipc: READY" "$AMBER_STATE_DIR/$n/log"
mq_info() { "$AMBER" exec "$1" -- sh -c 'mkdir -p /tmp/mq && mount -t mqueue none /tmp/mq && ls -l /tmp/mq | awk "NR > 1 { print \$1, \$3, \$9 }"; cat /tmp/mq/amber_mq; umount /tmp/mq'; }
mq_before=$(mq_info "$n")
assert_contains "$mq_before" "QSIZE:" "the queue before the dump"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img-mq"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img-mq" >/dev/null
assert_eq "$mq_before" "$(mq_info "$n")" "the queue's mode, owner, name and size after restore"
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "sysvipc: OK" "mq workload verdict"
"$AMBER" kill "$n" >/dev/null 2>&1 || true

note "amber show lists the ipc objects of an image"
shown=$("$AMBER" show "$E2E_TMP/img")
assert_contains "$shown" "SysV message queue id 0 key 0x7171: 100 messages, qbytes 12000, mode 620" "amber show"
assert_contains "$shown" "SysV shm id 1 key 0x5252: 8192 bytes, mode 600, owner 0:0, 2 attached, removed" "amber show"
assert_contains "$("$AMBER" show "$E2E_TMP/img-mq")" "POSIX message queue /amber_mq: 10 messages (max 10 of 64 bytes), mode 640" "amber show"
