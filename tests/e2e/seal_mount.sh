# Seal check, class 8: a mount of the container in a peer group with a mount
# of an outside mount namespace. An outside task in a mount namespace of its
# own makes a shared tmpfs there and grafts a clone of it (a peer) into the
# container's mount namespace (open_tree + move_mount, the only way across
# namespaces). Reported with that task's pid, accepted by the remedy's
# --external; as a slave (master:N) of the outside group it still leaks;
# the remedy (make it private in the container) seals it; a container
# mount shared with an outside copy of the container's own namespace leaks
# too, until the copy's last task is gone.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/seal_helpers.bash"

wl=$(e2e_workload seal_mount)
src=$E2E_BIN/src
dst=$E2E_BIN/dst
mkdir -p "$src" "$dst"

n=$(e2e_name mnt)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
init=$(init_pid "$n")
wait_until 5 grep -q '^State:.*S (sleeping)' /proc/$init/status
seal_expect_sealed "$n"

note "a clone of an outside shared mount grafted into the container"
seal_bg unshare -m --propagation private sh -c \
  "mount -t tmpfs seal-src '$src' && mount --make-shared '$src' && echo ready >'$E2E_BIN/h.ready' && exec sleep 1000"
holder=$SEAL_PID
seal_ready "$E2E_BIN/h.ready" >/dev/null
nsenter -t "$holder" -m -- "$wl" graft "$init" "$src" "$dst" || fail "could not graft the mount"
group=$(awk -v d="$dst" '$5 == d { for (i = 7; $i != "-"; i++) if ($i ~ /^shared:/) print substr($i, 8) }' /proc/$init/mountinfo)
[ -n "$group" ] || fail "the grafted mount is not shared in the container: $(grep " $dst " /proc/$init/mountinfo)"
grep -q " $src .*shared:$group " /proc/$holder/mountinfo || fail "the outside mount is not in peer group $group"
seal_expect_leak "$n" 8 mount-propagation "$holder"
assert_eq "mount:$dst" "$SEAL_EXTERNAL" "--external of the mount"
block=$(seal_block "$SEAL_TEXT" 8)
assert_contains "$block" "(shared $group) \"$dst\"" "object"
assert_contains "$block" "inside:  pid 1 (sleep, host pid $init): mount " "the container's mount"
assert_contains "$block" "outside: pid $holder (sleep): mount " "the outside mount"
assert_contains "$block" "at $src in mnt:[" "the outside mount's path"

note "a slave of the outside peer group still receives its mounts"
nsenter -t "$init" -m -- mount --make-slave "$dst"
grep -q " $dst .*master:$group " /proc/$init/mountinfo || fail "the container's mount is no slave of $group"
run_cmd "$AMBER" check "$n"
assert_eq 3 "$STATUS" "check of a slave of an outside group ($OUT $ERR)"
block=$(seal_block "$OUT" 8)
assert_contains "$block" "(master $group) \"$dst\"" "object"
assert_contains "$block" "outside: pid $holder (sleep): mount " "the outside mount"
seal_untouched "$n"

note "the remedy: private in the container"
nsenter -t "$init" -m -- mount --make-private "$dst"
seal_expect_sealed "$n"

note "a container mount shared with an outside copy of the container's mount namespace"
nsenter -t "$init" -m -- mount --make-shared "$dst"
seal_expect_sealed "$n"
seal_bg nsenter -t "$init" -m -- unshare -m --propagation unchanged sleep 1000
copy=$SEAL_PID
wait_until 5 sh -c "[ \"\$(readlink /proc/$copy/ns/mnt)\" != \"$(readlink /proc/$init/ns/mnt)\" ] && grep -qx sleep /proc/$copy/comm"
seal_expect_leak_text "$n" 8 mount-propagation "$copy"
assert_contains "$(seal_block "$SEAL_TEXT" 8)" "outside: pid $copy (sleep): mount " "the copy's mount"
assert_not_contains "$SEAL_TEXT" "pid $holder (" "the first outside namespace (no longer a peer)"
seal_stop "$copy"
seal_expect_sealed "$n"
