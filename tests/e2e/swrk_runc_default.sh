# runc's default spec (a busybox-free bundle: the host's sh) checkpointed and
# restored through amber, the issue's test: checkpoint → restore → it counts
# on. Its container shares the host's cgroup namespace (CRIU leaves a
# namespace shared with the engine to the runtime: amber's front end
# declares it external) and has runc's full mount layout (sysfs, mqueue,
# cgroup binds, masked and read-only paths): the namespace is recorded as
# an external and given back, the mount table dumped as recipes.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/runc_bundle.bash"

ln -s "$AMBER" "$E2E_BIN/criu"
bundle="$E2E_BIN/bundle"
runc_bundle "$bundle"
id="${E2E_PREFIX}def"
pid=$(runc_start "$id" "$bundle")
wait_until 10 eval '[ "$(runc_count "$bundle")" -ge 5 ]'

run_cmd runc_ --criu "$E2E_BIN/criu" checkpoint --image-path "$E2E_TMP/img" --work-path "$E2E_TMP/work" "$id"
[ "$STATUS" = 0 ] ||
  fail "runc checkpoint failed ($STATUS): $ERR; amber: $(grep 'Error: ' "$E2E_TMP/work/dump.log" | head -3)"
wait_until 5 eval '! proc_alive "$pid"'
stopped_at=$(runc_count "$bundle")
run_cmd runc_ --criu "$E2E_BIN/criu" restore -d --image-path "$E2E_TMP/img" --work-path "$E2E_TMP/work" \
  --bundle "$bundle" "$id"
[ "$STATUS" = 0 ] || fail "runc restore failed: $ERR; amber: $(grep 'Error: ' "$E2E_TMP/work/restore.log")"
assert_eq running "$(runc_status "$id")" "the restored container"
e2e_track "$(runc_pid "$id")"
sleep 1
c2=$(runc_count "$bundle")
note "count: $stopped_at at the checkpoint, $c2 a second after the restore"
[ "$c2" -gt "$stopped_at" ] || fail "count does not go on from $stopped_at: $c2"
counts_on "$bundle/rootfs/count"
runc_ kill "$id" KILL
