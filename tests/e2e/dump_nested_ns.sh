# Nested namespaces inside the container (issue 11 C, item 4): a task that
# unshared a namespace of any kind (mnt with a tmpfs of its own, uts, ipc,
# net, cgroup, user, time (entered at exec); pid for its children) is not recreated by a
# restore, so the dump refuses it by name (exit 4) and the container runs
# on. A mount made in the container's own mount namespace of a kind amber
# cannot make again is refused too; one of amber's own (/dev/shm) unmounted
# there stays unmounted after a restore.
. "$E2E_LIB"
command -v unshare >/dev/null || e2e_skip "unshare (util-linux) is not installed"

for spec in "mnt:-m" "uts:-u" "ipc:-i" "net:-n" "cgroup:-C" "user:-U" "pid_for_children:-p" "time:-T"; do
  kind=${spec%%:*}
  flag=${spec#*:}
  note "a task in a $kind namespace of its own"
  n=$(e2e_name "$kind")
  "$AMBER" run --name "$n" -- sleep 100000 >/dev/null
  # The task shares nothing with us: stdio on the container's /dev/null,
  # every other fd amber exec passed on (ours, ctest's) closed.
  "$AMBER" exec "$n" -- bash -c '
    for f in /proc/$$/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f>&-"; done
    unshare '"$flag"' sh -c "if [ '"$kind"' = mnt ]; then mount -t tmpfs amber_nested /mnt && echo x >/mnt/f; fi
      exec sleep 100000" </dev/null >/dev/null 2>&1 &'

  wait_until 10 eval "[ \$(cat $AMBER_CGROUP_ROOT/$n/cgroup.procs | wc -l) = 2 ]"
  wait_until 10 eval "grep -lx sleep \$(sed 's|.*|/proc/&/comm|' $AMBER_CGROUP_ROOT/$n/cgroup.procs) | wc -l | grep -qx 2"
  assert_fails 4 "(sleep): its $kind namespace " "$AMBER" dump "$n" -D "$E2E_TMP/img-$kind"
  assert_contains "$ERR" "is not the container's" "the $kind refusal"
  [ ! -e "$E2E_TMP/img-$kind" ] || fail "a refused dump left an image"
  assert_held_nothing "$n"
  "$AMBER" kill "$n" >/dev/null
done

note "a mount made inside the container's own mount namespace"
n=$(e2e_name mount)
"$AMBER" run --name "$n" -- sleep 100000 >/dev/null
"$AMBER" exec "$n" -- mount -t ramfs amber_own /mnt
assert_fails 4 "mount /mnt (ramfs from amber_own, root /): amber cannot make a new ramfs mount" \
  "$AMBER" dump "$n" -D "$E2E_TMP/img-mount"
assert_held_nothing "$n"
# amber check says so before a dump (the blocker scan reads the mount table).
run_cmd "$AMBER" check "$n"
assert_eq 4 "$STATUS" "amber check of a container with its own mount (stderr: $ERR)"
assert_contains "$OUT" "NOT DUMPABLE YET" "amber check's report"
assert_contains "$OUT" "mount /mnt (ramfs from amber_own, root /): amber cannot make a new ramfs mount" \
  "amber check's report"

note "a mount of amber's set-up unmounted inside the container"
n=$(e2e_name umount)
"$AMBER" run --name "$n" -- sleep 100000 >/dev/null
"$AMBER" exec "$n" -- umount /dev/shm
# (the host's /dev/shm is there too, inherited, under the container's /dev)
shm_mounts() { "$AMBER" exec "$n" -- cat /proc/self/mountinfo | awk '$5 == "/dev/shm" { print $4, $9, $10 }'; }
before=$(shm_mounts)
"$AMBER" dump "$n" -D "$E2E_TMP/img-umount" >/dev/null
"$AMBER" restore -D "$E2E_TMP/img-umount" >/dev/null
assert_eq "$before" "$(shm_mounts)" "/dev/shm mounts after restore (amber's not back)"
"$AMBER" kill "$n"
