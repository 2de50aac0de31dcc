# containerd 1.6 (Debian's, its runc v2 shim, runc 1.1) with amber as the
# `criu` beneath, on a daemon of the scenario's own (containerd.bash): a
# shell counting into /count of its rootfs, in a container with ctr's
# default spec (an overlayfs snapshot as rootfs, sysfs, mqueue, /run,
# masked and read-only paths, its own net namespace, the host's cgroup
# namespace, stdout and stderr piped to the shim) →
#  - `ctr task checkpoint`: a checkpoint image in containerd's content
#    store that holds amber's image, and it counts on (runc
#    --leave-running);
#  - `ctr containers checkpoint --task --rw`: paused, dumped with its rw
#    layer, resumed: an image that names the runtime and snapshotter;
#  - the container killed and deleted, then `ctr containers restore --live
#    --rw` (1.6's restore path: its ctr has no `container create
#    --checkpoint`, and a `ctr task checkpoint` image lacks the annotations
#    `containers restore` needs): the task runs, pid 1 inside, in the
#    cgroups /NS/ID, and counts on from where the checkpoint stopped (the rw
#    layer restored /count as it was at the dump: 1, 2, 3, ... with no gap
#    or repeat);
#  - `ctr task exec` joins it; `ctr task checkpoint --exit` dumps the
#    restored container again and stops it.
E2E_PRIVATE_MOUNTS=1  # containerd's overlay mounts stay in the scenario's mount namespace
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/containerd.bash"

ctrd_start
ctrd_import_image
id="$CTRD_NS-count"
rootfs="$(ctrd_bundle "$id")/rootfs"
pid=$(ctrd_run "$id")
assert_contains "$(cat "$E2E_TMP/$id.log")" counting "the container's stdout through the shim"
stdout=$(readlink "/proc/$pid/fd/1")
case "$stdout" in pipe:*) ;; *) fail "its stdout is not a pipe: $stdout" ;; esac

note "ctr task checkpoint"
run_cmd ctr_ task checkpoint --work-path "$E2E_TMP/work0" "$id"
[ "$STATUS" = 0 ] || fail "ctr task checkpoint failed: $ERR; amber: $(amber_errors "$E2E_TMP/work0/dump.log")"
ck0=$OUT
assert_contains "$ck0" "containerd.io/checkpoint/$id:" "the checkpoint image's name"
grep -qxF "$ck0" <<<"$(ctr_ image ls -q)" || fail "no image $ck0 in containerd"
# The index's criu tar (the runtime's image directory) holds amber's image.
tar_digest=$(ctr_ content get "$(ctr_ image ls | awk -v r="$ck0" '$1 == r { print $3 }')" |
  jq -r '.manifests[] | select(.mediaType | endswith("criu.checkpoint.criu.tar")) | .digest')
[ -n "$tar_digest" ] || fail "the checkpoint image has no criu tar"
listing=$(ctr_ content get "$tar_digest" | tar -t)
grep -qx amber/container.img <<<"$listing" || fail "the checkpoint's criu tar holds no amber/container.img: $listing"
assert_contains "$(cat "$E2E_TMP/work0/dump.log")" "notify post-dump" "the post-dump notification in amber's log"
assert_eq RUNNING "$(ctrd_status "$id")" "the task after ctr task checkpoint"
assert_eq "$pid" "$(ctrd_pid "$id")" "its init"
ctrd_counting "$id" "after ctr task checkpoint"
# containerd 1.6 writes the container's spec into the content store with
# each task checkpoint and fails the checkpoint (AlreadyExists, after runc
# dumped) when an image still holds the same blob; `ctr containers
# checkpoint` ignores that error and makes an image without the task. So
# each checkpoint image goes (collected at once) before the next checkpoint.
ctrd_drop_image() { ctr_ image rm --sync "$1" >/dev/null || fail "ctr image rm $1"; }
ctrd_drop_image "$ck0"

note "ctr containers checkpoint --task --rw"
ref="amber-e2e/$id:checkpoint"
run_cmd ctr_ containers checkpoint --task --rw "$id" "$ref"
[ "$STATUS" = 0 ] || fail "ctr containers checkpoint failed: $ERR"
media=$(ctr_ content get "$(ctr_ image ls | awk -v r="$ref" '$1 == r { print $3 }')" | jq -r '.manifests[].mediaType')
assert_contains "$media" criu.checkpoint.criu.tar "the container checkpoint's index (its task)"
assert_eq RUNNING "$(ctrd_status "$id")" "the task after ctr containers checkpoint (paused, then resumed)"
assert_eq THAWED "$(cat "/sys/fs/cgroup/freezer/$CTRD_NS/$id/freezer.state")" "its freezer state"
ctrd_counting "$id" "after ctr containers checkpoint"

note "killed, deleted, restored"
ctrd_remove "$id"
! grep -qxF "$id" <<<"$(ctr_ container ls -q)" || fail "ctr container delete left $id"
wait_until 5 eval '! proc_alive "$pid"'
run_cmd ctr_ containers restore --live --rw "$id" "$ref"
[ "$STATUS" = 0 ] || fail "ctr containers restore failed: $ERR; amber: $(amber_errors "$(ctrd_restore_log "$id")")"
assert_eq RUNNING "$(ctrd_status "$id")" "the restored task"
restored=$(ctrd_pid "$id")
[ "$restored" != "$pid" ] || fail "the restored init has the dead init's host pid"
assert_eq 1 "$(sed -n 's/^NSpid:.*\t//p' "/proc/$restored/status")" "the restored init's pid inside"
assert_eq "freezer:/$CTRD_NS/$id" "$(grep -o 'freezer:.*' "/proc/$restored/cgroup")" "its freezer cgroup"
assert_eq "0::/$CTRD_NS/$id" "$(grep '^0::' "/proc/$restored/cgroup")" "its unified cgroup"
restore_log=$(cat "$(ctrd_restore_log "$id")")
assert_contains "$restore_log" "notify post-restore (pid $restored)" "amber's restore log"
# Its stdout is the shim's new pipe, handed in by runc (inherit_fd with the
# dumped pipe's key).
assert_contains "$restore_log" "inherit_fd $stdout as fd" "amber's restore log"
new_stdout=$(readlink "/proc/$restored/fd/1")
case "$new_stdout" in pipe:*) assert_ne "$stdout" "$new_stdout" "the restored init's stdout" ;;
  *) fail "the restored init's stdout is not a pipe: $new_stdout" ;; esac
restored_at=$(wc -l <"$rootfs/count")
sleep 1
c2=$(ctrd_count "$id")
note "count: $restored_at lines when restored, $c2 a second later"
[ "$c2" -gt "$restored_at" ] || fail "the restored shell does not count: $c2"
counts_on "$rootfs/count"
run_cmd ctr_ task exec --exec-id "$id-exec" "$id" /bin/sh -c 'echo "inside, pid $$"; cat /proc/1/stat'
[ "$STATUS" = 0 ] || fail "ctr task exec into the restored container: $STATUS $OUT $ERR"
assert_contains "$OUT" "inside, pid " "ctr task exec's output"
assert_contains "$OUT" "1 (sh) " "the init ctr task exec sees"

note "ctr task checkpoint --exit of the restored container"
ctrd_drop_image "$ref"
run_cmd ctr_ task checkpoint --exit --work-path "$E2E_TMP/work1" "$id"
[ "$STATUS" = 0 ] || fail "ctr task checkpoint --exit failed: $ERR; amber: $(amber_errors "$E2E_TMP/work1/dump.log")"
assert_contains "$OUT" "containerd.io/checkpoint/$id:" "the second checkpoint image's name"
wait_until 5 eval '! proc_alive "$restored"'
wait_until 5 eval '[ "$(ctrd_status "$id")" = STOPPED ]'
stopped_at=$(ctrd_count "$id")
sleep 0.3
assert_eq "$stopped_at" "$(ctrd_count "$id")" "the count after ctr task checkpoint --exit"
counts_on "$rootfs/count"
