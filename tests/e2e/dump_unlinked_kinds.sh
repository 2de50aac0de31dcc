# Unlinked files of other kinds (issue 11): a sparse file keeps its holes
# (SEEK_DATA/SEEK_HOLE, st_blocks), an O_TMPFILE file opens again, a device
# node of the task's own comes back with its mode, owner and rdev, not as
# /dev/null; checked by the workload after a real dump, kill and restore.
# An open directory that was removed is refused at dump (exit 4, by name),
# and the container runs on untouched.
. "$E2E_LIB"

wl=$(e2e_workload unlinked_kinds)

n=$(e2e_name sparse)
"$AMBER" run --name "$n" -- "$wl" sparse >/dev/null
wait_until 10 grep -q "unlinked_kinds: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
kill -USR1 "$pid2"
wait_until 10 eval 'case "$(ps_state "$n")" in stopped*) true ;; *) false ;; esac'
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "unlinked_kinds: OK mode=sparse" "workload verdict"
assert_eq "stopped (exit 0)" "$(ps_state "$n")" "exit status"

n=$(e2e_name dir)
"$AMBER" run --name "$n" -- "$wl" dir >/dev/null
wait_until 10 grep -q "unlinked_kinds: READY" "$AMBER_STATE_DIR/$n/log"
fd=$(sed -n 's/.*READY fd=\([0-9]*\).*/\1/p' "$AMBER_STATE_DIR/$n/log")
assert_fails 4 "task 1: fd $fd: /tmp/gone (deleted) (deleted directory): not supported yet" \
  "$AMBER" dump "$n" -D "$E2E_TMP/img-dir"
[ ! -e "$E2E_TMP/img-dir" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
