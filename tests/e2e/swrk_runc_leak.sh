# runc checkpointing through amber (amber as `criu`, runc --criu): a process
# outside the container joins its uts namespace (nsenter), so `runc
# checkpoint` fails with amber's seal-check report (quoted by runc from the
# log in its work directory), and the container runs on untouched: counting,
# thawed (runc asks amber to hold it by its v1 freezer cgroup), untraced.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/runc_bundle.bash"

ln -s "$AMBER" "$E2E_BIN/criu"
bundle="$E2E_BIN/bundle"
runc_bundle "$bundle"
id="${E2E_PREFIX}leak"
pid=$(runc_start "$id" "$bundle")
wait_until 10 eval '[ "$(runc_count "$bundle")" -ge 3 ]'

nsenter -t "$pid" -u sleep 600 &
intruder=$!
e2e_track "$intruder"
wait_until 5 eval '[ "$(readlink /proc/$intruder/ns/uts)" = "$(readlink /proc/$pid/ns/uts)" ]'

run_cmd runc_ --criu "$E2E_BIN/criu" checkpoint --image-path "$E2E_TMP/img" --work-path "$E2E_TMP/work" "$id"
[ "$STATUS" != 0 ] || fail "runc checkpoint succeeded despite the leak"
note "runc said: $(echo "$ERR" | head -3)"
log=$(cat "$E2E_TMP/work/dump.log")
assert_contains "$log" "Error: NOT SEALED" "amber's report in the work directory's log"
assert_contains "$log" "uts namespace" "the leaked object in the report"
assert_contains "$log" "pid $intruder (sleep)" "the outside holder in the report"
# runc 1.1 names the log; later ones quote its "Error" lines.
assert_contains "$ERR" "work/dump.log" "runc names amber's log"
assert_eq running "$(runc_status "$id")" "the container's status"
freezer=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$pid/cgroup")
assert_eq THAWED "$(cat "/sys/fs/cgroup/freezer$freezer/freezer.state")" "its freezer cgroup"
assert_eq 0 "$(awk '/^TracerPid/ { print $2 }' "/proc/$pid/status")" "tracer of its init"
c1=$(runc_count "$bundle")
sleep 0.5
[ "$(runc_count "$bundle")" -gt "$c1" ] || fail "the container stopped counting"
[ ! -e "$E2E_TMP/img/amber" ] || fail "an image was left behind"
