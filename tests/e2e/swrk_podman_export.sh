# podman's checkpoint archive through amber (amber as `criu` first on PATH):
# a container of a local image (podman import of a rootfs of the host's sh,
# sleep and cat: no registry) counting into /count of its own storage and
# onto its log →
#  - `podman container checkpoint --export FILE.tar.gz --print-stats`: the
#    archive holds amber's image, CRIU's inventory.img and stats-dump, and
#    podman reads amber's statistics from it;
#  - the container is removed: only the archive is left;
#  - `podman container restore --import FILE --print-stats`: podman makes
#    the container again (its storage from the archive's rootfs diff) and
#    amber restores it: it counts on from where it stopped, in the /count
#    the archive brought back, and onto a new log pipe.
# (podman 4.3 imports only a container of an image: a --rootfs container's
# archive is refused by podman itself, before amber runs: "repository name
# must have at least one component".)
E2E_PRIVATE_MOUNTS=1
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/podman_helpers.bash"

bundle="$E2E_BIN/bundle"
runc_bundle "$bundle"
image="localhost/${E2E_PREFIX,,}sh:latest"
podman_image "$image" "$bundle"
name="${E2E_PREFIX}ex"
podman_start "$name" "$image"
pid=$(podman_pid "$name")
# The container's root on the host (vfs storage: a plain directory).
podman_count() { tail -n 1 "$(podman_ mount "$name")/count" 2>/dev/null | grep . || echo 0; }
wait_until 10 eval '[ "$(podman_count)" -ge 5 ]'

note "checkpoint --export"
archive="$E2E_TMP/$name.tar.gz"
run_cmd podman_ container checkpoint --export "$archive" --compress gzip --print-stats "$name"
[ "$STATUS" = 0 ] || fail "podman container checkpoint --export failed: $ERR; amber: $(podman_amber_errors)"
wait_until 5 eval '! proc_alive "$pid"'
stats=$("$PY" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["container_statistics"][0]["criu_statistics"]))' <<<"$OUT") ||
  fail "no CRIU statistics in podman's answer: $OUT"
note "podman read amber's statistics: $stats"
"$PY" -c 'import json, sys; s = json.loads(sys.argv[1]); sys.exit(not (s["frozen_time"] > 0 and s["pages_written"] > 0))' \
  "$stats" || fail "amber's statistics are empty: $stats"
contents=$(tar tzf "$archive")
for f in checkpoint/inventory.img stats-dump checkpoint/amber/container.img rootfs-diff.tar; do
  grep -qx "$f" <<<"$contents" || fail "no $f in the archive"
done
stopped_at=$(podman_count)
note "count: $stopped_at at the checkpoint"

note "rm, then restore --import"
podman_ rm "$name" >/dev/null || fail "podman rm of the checkpointed container failed"
! podman_ inspect "$name" >/dev/null 2>&1 || fail "podman still knows the removed container"
run_cmd podman_ container restore --import "$archive" --print-stats
[ "$STATUS" = 0 ] || fail "podman container restore --import failed: $ERR; amber: $(podman_amber_errors)"
"$PY" -c 'import json, sys; s = json.load(sys.stdin)["container_statistics"][0]["criu_statistics"]; sys.exit(not s["restore_time"] > 0)' \
  <<<"$OUT" || fail "no restore statistics of amber's in podman's answer: $OUT"
assert_eq running "$(podman_status "$name")" "podman's status of the imported container"
restored=$(podman_pid "$name")
e2e_track "$restored"
[ "$(sed -n 's/^NSpid:.*\t//p' "/proc/$restored/status")" = 1 ] || fail "the restored init is not pid 1 inside"
sleep 1
c2=$(podman_count)
note "count: $stopped_at at the checkpoint, $c2 a second after the restore"
[ "$c2" -gt "$stopped_at" ] || fail "count does not go on from $stopped_at: $c2"
counts_on "$(podman_ mount "$name")/count"
wait_until 5 eval '[ "$(podman_logged "$name")" -gt "$stopped_at" ]'
run_cmd podman_ rm -f -t 0 "$name"
[ "$STATUS" = 0 ] || fail "podman rm -f of the restored container: $ERR"
wait_until 5 eval '! proc_alive "$restored"'
