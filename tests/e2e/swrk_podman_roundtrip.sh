# podman checkpointing through amber (amber as `criu` first on PATH, podman
# → runc → criu swrk): a rootfs container (runc's mount layout as podman
# builds it, podman's default net sysctl, its stdout and stderr pipes to
# conmon) counting into /count and onto its log →
#  - `podman container checkpoint --leave-running --keep`: it counts on;
#    CRIU's inventory.img is in podman's checkpoint directory;
#  - `podman container checkpoint --keep`: into the same directory (amber's
#    earlier image there is replaced); podman says it exited, it counts no
#    more;
#  - `podman container restore --keep`: podman says it runs, pid 1 inside
#    again, it counts on from where it stopped (1, 2, 3, ... in /count) and
#    its stdout reaches podman's log again (conmon's new pipes, handed in by
#    runc's inherit_fd for the pipes the dump declared external);
#  - checkpointed and restored once more (podman removes its files after
#    that): the restored container is the same to amber; `podman exec`
#    joins it.
# The archive (--export / --import): swrk_podman_export.sh.
E2E_PRIVATE_MOUNTS=1
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/podman_helpers.bash"

bundle="$E2E_BIN/bundle"
runc_bundle "$bundle"
name="${E2E_PREFIX}rt"
podman_start "$name" --rootfs "$bundle/rootfs"
pid=$(podman_pid "$name")
wait_until 10 eval '[ "$(runc_count "$bundle")" -ge 5 ]'
id=$(podman_ inspect -f '{{.Id}}' "$name")
userdata="$PODMAN_DIR/root/vfs-containers/$id/userdata"
# counted_on N: a second after a restore, it has counted on from N (the
# count at the checkpoint) with no number missing or repeated, and its
# stdout reaches podman's log again.
counted_on() {
  local from=$1 now
  sleep 1
  now=$(runc_count "$bundle")
  note "count: $from at the checkpoint, $now a second after the restore"
  [ "$now" -gt "$from" ] || fail "count does not go on from $from: $now"
  counts_on "$bundle/rootfs/count"
  wait_until 5 eval '[ "$(podman_logged "$name")" -gt "$from" ]'
}

note "checkpoint --leave-running"
run_cmd podman_ container checkpoint --leave-running --keep "$name"
[ "$STATUS" = 0 ] || fail "podman container checkpoint --leave-running failed: $ERR; amber: $(podman_amber_errors)"
assert_eq running "$(podman_status "$name")" "podman's status after checkpoint --leave-running"
assert_eq "$pid" "$(podman_pid "$name")" "its init"
[ -f "$userdata/checkpoint/inventory.img" ] || fail "no inventory.img in podman's checkpoint directory"
[ -f "$userdata/checkpoint/amber/container.img" ] || fail "no amber image in podman's checkpoint directory"
c1=$(runc_count "$bundle")
sleep 0.5
[ "$(runc_count "$bundle")" -gt "$c1" ] || fail "it stopped counting after checkpoint --leave-running"

note "checkpoint"
run_cmd podman_ container checkpoint --keep "$name"
[ "$STATUS" = 0 ] || fail "podman container checkpoint failed: $ERR; amber: $(podman_amber_errors)"
wait_until 5 eval '! proc_alive "$pid"'
assert_eq exited "$(podman_status "$name")" "podman's status of the checkpointed container"
assert_contains "$(cat "$userdata/dump.log")" "notify post-dump" "the post-dump notification in amber's log"
[ ! -e "$userdata/checkpoint/amber.earlier" ] || fail "the earlier image is left beside the new one"
stopped_at=$(runc_count "$bundle")
sleep 0.3
assert_eq "$stopped_at" "$(runc_count "$bundle")" "the count after the checkpoint"

note "restore"
run_cmd podman_ container restore --keep "$name"
[ "$STATUS" = 0 ] || fail "podman container restore failed: $ERR; amber: $(podman_amber_errors)"
assert_eq running "$(podman_status "$name")" "podman's status of the restored container"
restored=$(podman_pid "$name")
e2e_track "$restored"
assert_ne "$pid" "$restored" "the restored init's host pid"
[ "$(sed -n 's/^NSpid:.*\t//p' "/proc/$restored/status")" = 1 ] || fail "the restored init is not pid 1 inside"
assert_eq "$PODMAN_CGROUP/libpod-$id" "$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$restored/cgroup")" \
  "the restored init's freezer cgroup (podman's)"
counted_on "$stopped_at"

note "checkpoint and restore again"
run_cmd podman_ container checkpoint "$name"
[ "$STATUS" = 0 ] || fail "the second podman container checkpoint failed: $ERR; amber: $(podman_amber_errors)"
wait_until 5 eval '! proc_alive "$restored"'
stopped_at=$(runc_count "$bundle")
run_cmd podman_ container restore "$name"
[ "$STATUS" = 0 ] || fail "the second podman container restore failed: $ERR; amber: $(podman_amber_errors)"
again=$(podman_pid "$name")
e2e_track "$again"
counted_on "$stopped_at"
run_cmd podman_ exec "$name" /bin/sh -c 'echo "inside, pid $$"'
[ "$STATUS" = 0 ] || fail "podman exec into the restored container: $STATUS $OUT $ERR"
assert_contains "$OUT" "inside, pid " "podman exec's output"
run_cmd podman_ rm -f -t 0 "$name"
[ "$STATUS" = 0 ] || fail "podman rm -f of the restored container: $ERR"
wait_until 5 eval '! proc_alive "$again"'
