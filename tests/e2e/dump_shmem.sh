# A process and its fork child sharing anonymous memory (MAP_SHARED), a memfd
# mapping, private copy-on-write pages and madvise flags; a shared file
# mapping whose file the restore must not write (checksum and mtime kept).
# After dump, kill and restore, writes of one are seen by the other.
. "$E2E_LIB"

wl=$(e2e_workload shmem)
data="$E2E_BIN/shared.data"
head -c 8192 /dev/urandom >"$data"
n=$(e2e_name shm)
"$AMBER" run --name "$n" -- "$wl" "$data" >/dev/null
wait_until 10 grep -q "shmem: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
note "a dump failing while it copies the shared memory leaves the container running"
run_cmd env AMBER_FAULT=dump.shmem "$AMBER" dump "$n" -D "$E2E_TMP/img-f"
assert_eq 1 "$STATUS" "dump with fault dump.shmem (stderr: $ERR)"
[ ! -e "$E2E_TMP/img-f" ] || fail "the failed dump left an image"
assert_held_nothing "$n"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"

note "the image holds each shared object once"
shown=$("$AMBER" show -D "$E2E_TMP/img" 2>&1 || true)
[ -f "$E2E_TMP/img/shmem.img" ] || fail "no shmem.img in the image: $(ls "$E2E_TMP/img")"
assert_eq 2 "$(ls "$E2E_TMP/img/shmem/" | grep -c '\.bin$')" "shared objects in the image"

note "restore never writes the shared file"
sum=$(sha1sum <"$data")
mtime=$(stat -c %Y.%y "$data")
sleep 1.1  # an mtime the restore would change is a different second
for p in restore.shmem restore.shmem-fds; do
  note "a restore failing at $p leaves nothing behind"
  run_cmd env AMBER_FAULT="$p" "$AMBER" restore -D "$E2E_TMP/img"
  assert_eq 1 "$STATUS" "restore with fault $p (stderr: $ERR)"
  assert_nothing_left "$n"
done
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
assert_eq "$sum" "$(sha1sum <"$data")" "shared file content after restore"
assert_eq "$mtime" "$(stat -c %Y.%y "$data")" "shared file mtime after restore"
child=$(cat /proc/$pid2/task/$pid2/children | xargs)
a1=$(awk '/\/dev\/zero \(deleted\)/ { print $5 }' /proc/$pid2/maps)
a2=$(awk '/\/dev\/zero \(deleted\)/ { print $5 }' /proc/$child/maps)
[ -n "$a1" ] || fail "no shared anonymous memory in the restored init"
assert_eq "$a1" "$a2" "inode of the shared anonymous memory in parent and child"

kill -USR1 "$pid2"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "shmem: OK" "workload verdict"
