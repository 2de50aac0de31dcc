# The container's ipc namespace (issue 11 C, items 1-2). Its sysctls —
# kernel.msg*, sem, shm*, the *_next_id ones and fs.mqueue.* — come back in
# the restored container (read from inside, and the next msgget takes the
# saved next id). Its SysV message queues, semaphore sets and shm segments
# come back with their ids, and its POSIX message queues too
# (dump_sysvipc.sh checks their whole state).
. "$E2E_LIB"

wl=$(e2e_workload nsmisc)

ipc_sysctls=(kernel/msgmax kernel/msgmnb kernel/msgmni kernel/sem kernel/shmall kernel/shmmax kernel/shmmni
  kernel/shm_rmid_forced fs/mqueue/queues_max fs/mqueue/msg_max fs/mqueue/msgsize_max fs/mqueue/msg_default
  fs/mqueue/msgsize_default kernel/msg_next_id kernel/sem_next_id kernel/shm_next_id)
read_sysctls() {  # NAME: every ipc sysctl as the container sees it
  "$AMBER" exec "$1" -- sh -c 'for f in "$@"; do printf "%s=%s\n" "$f" "$(cat /proc/sys/$f)"; done' sh \
    "${ipc_sysctls[@]}" | tr '\t' ' '
}

note "ipc sysctls: dumped and restored into the new ipc namespace"
n=$(e2e_name sysctl)
"$AMBER" run --name "$n" -- sleep 100000 >/dev/null
"$AMBER" exec "$n" -- sh -c '
  cd /proc/sys
  echo 4242 >kernel/msgmax; echo 8484 >kernel/msgmnb; echo 77 >kernel/msgmni; echo "100 1000 50 60" >kernel/sem
  echo 424242 >kernel/shmall; echo 123456789 >kernel/shmmax; echo 99 >kernel/shmmni; echo 1 >kernel/shm_rmid_forced
  echo 33 >fs/mqueue/queues_max; echo 42 >fs/mqueue/msg_max; echo 5000 >fs/mqueue/msgsize_max
  echo 7 >fs/mqueue/msg_default; echo 1000 >fs/mqueue/msgsize_default
  echo 500 >kernel/msg_next_id; echo 600 >kernel/sem_next_id; echo 700 >kernel/shm_next_id'
before=$(read_sysctls "$n")
assert_contains "$before" "kernel/sem=100 1000 50 60" "sysctls set in the container"
assert_contains "$before" "kernel/msg_next_id=500" "sysctls set in the container"
assert_ne "$(cat /proc/sys/kernel/msgmax)" 4242 "the host's kernel.msgmax"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_contains "$("$AMBER" show "$E2E_TMP/img")" "kernel/msgmax=4242, kernel/msgmnb=8484" "amber show"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
assert_eq "$before" "$(read_sysctls "$n")" "ipc sysctls after restore"
run_cmd "$AMBER" exec "$n" -- ipcmk -Q
assert_contains "$OUT" "Message queue id: 500" "the next msgget after restore takes msg_next_id"
"$AMBER" kill "$n" >/dev/null

refused() {  # NAME MESSAGE-PART: the dump exits 4 naming the object; the container runs on
  assert_fails 4 "$2" "$AMBER" dump "$1" -D "$E2E_TMP/refused-$1"
  [ ! -e "$E2E_TMP/refused-$1" ] || fail "a refused dump left an image"
  assert_held_nothing "$1"
}

note "SysV objects made by ipcmk are dumped and restored with their ids (dump_sysvipc.sh checks their state)"
n=$(e2e_name sysv)
"$AMBER" run --name "$n" -- sleep 100000 >/dev/null
"$AMBER" exec "$n" -- "$wl" msgq 0x1234 3
"$AMBER" exec "$n" -- ipcmk -S 2 >/dev/null
"$AMBER" exec "$n" -- ipcmk -M 8192 >/dev/null
list_sysv() { "$AMBER" exec "$1" -- sh -c 'cat /proc/sysvipc/msg /proc/sysvipc/sem /proc/sysvipc/shm' | awk '{ print $1, $2, $3, $4 }'; }  # key, id, mode, size
sysv_before=$(list_sysv "$n")
assert_contains "$sysv_before" "4660 0 600 48" "the message queue before the dump"
"$AMBER" dump "$n" -D "$E2E_TMP/img-sysv"
"$AMBER" restore -D "$E2E_TMP/img-sysv" >/dev/null
assert_eq "$sysv_before" "$(list_sysv "$n")" "SysV objects after restore"
"$AMBER" kill "$n" >/dev/null

note "a POSIX message queue made by a task that has exited is dumped and restored (dump_sysvipc.sh checks its messages)"
n=$(e2e_name mq)
"$AMBER" run --name "$n" -- sleep 100000 >/dev/null
"$AMBER" exec "$n" -- "$wl" mq /amber_q
mq_state() { "$AMBER" exec "$1" -- sh -c 'mkdir -p /tmp/m && mount -t mqueue none /tmp/m && cat /tmp/m/amber_q; umount /tmp/m'; }
mq_before=$(mq_state "$n")
assert_contains "$mq_before" "QSIZE:5" "the queue before the dump"
"$AMBER" dump "$n" -D "$E2E_TMP/img-mq"
"$AMBER" restore -D "$E2E_TMP/img-mq" >/dev/null
assert_eq "$mq_before" "$(mq_state "$n")" "the queue after restore"
"$AMBER" kill "$n" >/dev/null
