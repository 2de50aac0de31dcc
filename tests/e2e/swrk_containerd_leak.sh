# containerd 1.6 checkpointing through amber (containerd.bash): a process
# outside the container joins its uts namespace (nsenter), so amber's seal
# check refuses the dump, and both of ctr's checkpoint paths fail with the
# report while the container runs on untouched:
#  - `ctr task checkpoint --exit`: the report in amber's log in the work
#    directory, and in the shim's copy of it, which ctr's error names;
#    running, counting, thawed, untraced, no checkpoint image;
#  - `ctr containers checkpoint --task`: ctr pauses the task (runc freezes
#    its v1 freezer cgroup) before the checkpoint, so amber's hold finds it
#    frozen and puts it back so; ctr resumes it after the refusal; no image.
E2E_PRIVATE_MOUNTS=1  # containerd's overlay mounts stay in the scenario's mount namespace
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/containerd.bash"

ctrd_start
ctrd_import_image
id="$CTRD_NS-leak"
pid=$(ctrd_run "$id")
nsenter -t "$pid" -u sleep 600 &
intruder=$!
e2e_track "$intruder"
wait_until 5 eval '[ "$(readlink /proc/$intruder/ns/uts)" = "$(readlink /proc/$pid/ns/uts)" ]'

# ctrd_untouched WHEN: the container runs on as it was.
ctrd_untouched() {
  assert_eq RUNNING "$(ctrd_status "$id")" "the task $1"
  assert_eq "$pid" "$(ctrd_pid "$id")" "its init $1"
  assert_eq THAWED "$(cat "/sys/fs/cgroup/freezer/$CTRD_NS/$id/freezer.state")" "its freezer cgroup $1"
  assert_eq 0 "$(awk '/^TracerPid/ { print $2 }' "/proc/$pid/status")" "the tracer of its init $1"
  ctrd_counting "$id" "$1"
  assert_eq "$CTRD_IMAGE" "$(ctr_ image ls -q)" "containerd's images $1"
}

note "ctr task checkpoint --exit"
run_cmd ctr_ task checkpoint --exit --work-path "$E2E_TMP/work" "$id"
[ "$STATUS" != 0 ] || fail "ctr task checkpoint succeeded despite the leak"
note "ctr said: $(head -3 <<<"$ERR")"
log=$(cat "$E2E_TMP/work/dump.log")
assert_contains "$log" "Error: NOT SEALED" "amber's report in the work directory's log"
assert_contains "$log" "uts namespace" "the leaked object in the report"
assert_contains "$log" "pid $intruder (sleep)" "the outside holder in the report"
# The shim keeps a copy of a failed dump's log in the bundle and names it.
assert_contains "$ERR" "$(ctrd_bundle "$id")/criu-dump.log" "ctr's error names the shim's copy of amber's log"
assert_contains "$(cat "$(ctrd_bundle "$id")/criu-dump.log")" "Error: NOT SEALED" "the shim's copy of amber's log"
ctrd_untouched "after the refused ctr task checkpoint --exit"

note "ctr containers checkpoint --task"
rm "$(ctrd_bundle "$id")/criu-dump.log"
run_cmd ctr_ containers checkpoint --task "$id" "amber-e2e/$id:checkpoint"
[ "$STATUS" != 0 ] || fail "ctr containers checkpoint succeeded despite the leak"
note "ctr said: $(head -3 <<<"$ERR")"
assert_contains "$ERR" "$(ctrd_bundle "$id")/criu-dump.log" "ctr's error names the shim's copy of amber's log"
assert_contains "$(cat "$(ctrd_bundle "$id")/criu-dump.log")" "pid $intruder (sleep)" "the shim's copy of amber's log"
ctrd_untouched "after the refused ctr containers checkpoint"
