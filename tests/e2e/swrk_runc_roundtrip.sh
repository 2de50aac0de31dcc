# runc with amber as its checkpoint engine (runc --criu <a link named criu>),
# the whole round trip: a shell counting into /count of its rootfs in a runc
# container (cgroupfs manager, v1 hierarchies; the mount layout amber dumps
# today, see runc_bundle.bash) →
#  - `runc checkpoint --leave-running`: an image, and it counts on;
#  - `runc checkpoint`: the container is gone, runc forgets it;
#  - `runc restore -d`: runc says it runs, in the cgroups runc made (its v1
#    freezer cgroup among them), pid 1 inside again, and it counts on from
#    where it stopped; `runc exec` joins it, `runc kill` ends it.
# runc's default mount layout: swrk_runc_default.sh.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/runc_bundle.bash"

ln -s "$AMBER" "$E2E_BIN/criu"
bundle="$E2E_BIN/bundle"
runc_bundle "$bundle" amber-layout
id="${E2E_PREFIX}rt"
pid=$(runc_start "$id" "$bundle")
wait_until 10 eval '[ "$(runc_count "$bundle")" -ge 5 ]'
amber_errors() { grep -h 'Error: ' "$E2E_TMP"/work*/*.log 2>/dev/null | sed 's/.*Error: //' | head -5; }

note "checkpoint --leave-running"
run_cmd runc_ --criu "$E2E_BIN/criu" checkpoint --leave-running --image-path "$E2E_TMP/img0" \
  --work-path "$E2E_TMP/work0" "$id"
[ "$STATUS" = 0 ] || fail "runc checkpoint --leave-running failed: $ERR; amber: $(amber_errors)"
[ -f "$E2E_TMP/img0/amber/container.img" ] || fail "no amber image in the checkpoint directory"
assert_eq running "$(runc_status "$id")" "the container after checkpoint --leave-running"
assert_eq "$pid" "$(runc_pid "$id")" "its init"
c1=$(runc_count "$bundle")
sleep 0.5
[ "$(runc_count "$bundle")" -gt "$c1" ] || fail "it stopped counting after checkpoint --leave-running"

note "checkpoint"
run_cmd runc_ --criu "$E2E_BIN/criu" checkpoint --image-path "$E2E_TMP/img" --work-path "$E2E_TMP/work" "$id"
[ "$STATUS" = 0 ] || fail "runc checkpoint failed: $ERR; amber: $(amber_errors)"
wait_until 5 eval '! proc_alive "$pid"'
# runc destroys a checkpointed container: its id is free for the restore.
! runc_ state "$id" >/dev/null 2>&1 || fail "runc still knows the checkpointed container"
stopped_at=$(runc_count "$bundle")
sleep 0.3
assert_eq "$stopped_at" "$(runc_count "$bundle")" "the count after the checkpoint"
assert_contains "$(cat "$E2E_TMP/work/dump.log")" "notify post-dump" "the post-dump notification in amber's log"

note "restore"
run_cmd runc_ --criu "$E2E_BIN/criu" restore -d --image-path "$E2E_TMP/img" --work-path "$E2E_TMP/work" \
  --bundle "$bundle" "$id"
[ "$STATUS" = 0 ] || fail "runc restore failed: $ERR; amber: $(amber_errors)"
assert_eq running "$(runc_status "$id")" "the restored container"
restored=$(runc_pid "$id")
e2e_track "$restored"
[ "$(sed -n 's/^NSpid:.*\t//p' "/proc/$restored/status")" = 1 ] || fail "the restored init is not pid 1 inside"
freezer=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$restored/cgroup")
assert_eq "/$id" "$freezer" "the restored init's freezer cgroup"
assert_eq THAWED "$(cat "/sys/fs/cgroup/freezer/$id/freezer.state")" "its freezer state"
grep -qx "$restored" "/sys/fs/cgroup/freezer/$id/cgroup.procs" || fail "the restored init is not in runc's freezer cgroup"
sleep 1
c2=$(runc_count "$bundle")
note "count: $stopped_at at the checkpoint, $c2 a second after the restore"
[ "$c2" -gt "$stopped_at" ] || fail "count does not go on from $stopped_at: $c2"
counts_on "$bundle/rootfs/count"
run_cmd runc_ exec "$id" /bin/sh -c 'echo "inside, pid $$"'
[ "$STATUS" = 0 ] || fail "runc exec into the restored container: $STATUS $OUT $ERR"
assert_contains "$OUT" "inside, pid " "runc exec's output"
runc_ kill "$id" KILL
wait_until 5 eval '[ "$(runc_status "$id")" = stopped ]'
