# SysV semaphores held with SEM_UNDO (issue 13, "SysV sem held with
# SEM_UNDO, released when the holder exits after restore"): a process holds
# a semaphore and has raised another by 20000 with SEM_UNDO, a two-threaded
# process has an adjustment made from its second thread, and the init is
# multi-threaded without one. The adjustments are read by probing semops
# that never succeed (kinds/ns/ipc_semundo.h): a dump that fails after
# reading them, and a dump with --leave-running, leave values and
# adjustments as they were (the later real dump reads the same ones, and the
# workload's exits apply them). After dump -> kill -> restore the holder
# exits and the kernel gives the semaphores back; the workload checks every
# value. A list shared by two processes stays refused by name.
. "$E2E_LIB"

wl=$(e2e_workload semundo)
n=$(e2e_name semundo)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "semundo: READY" "$AMBER_STATE_DIR/$n/log"
sems_of() { "$AMBER" exec "$1" -- cat /proc/sysvipc/sem | awk 'NR > 1 { print $1, $2, $3, $4 }'; }
before=$(sems_of "$n")
pids=$(init_and_children "$n")
snap=$(task_snapshot "$n" $pids)

note "a dump failing after the adjustments were read leaves the container running as it was"
run_cmd env AMBER_FAULT=dump.tree-plan "$AMBER" dump "$n" -D "$E2E_TMP/img-f"
assert_eq 1 "$STATUS" "dump with fault dump.tree-plan (stderr: $ERR)"
assert_held_nothing "$n"
assert_eq "$snap" "$(task_snapshot "$n" $pids)" "tasks after the failed dump"
assert_eq "$before" "$(sems_of "$n")" "semaphore set after the failed dump"

note "dump --leave-running: the container runs on, values and adjustments untouched"
"$AMBER" dump "$n" -D "$E2E_TMP/img-lr" --leave-running >/dev/null
assert_held_nothing "$n"
assert_eq "$before" "$(sems_of "$n")" "semaphore set after dump --leave-running"
shown=$("$AMBER" show "$E2E_TMP/img-lr")
assert_contains "$shown" "SEM_UNDO" "amber show lists the adjustments"

pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
assert_eq "$("$AMBER" show "$E2E_TMP/img-lr" | grep SEM_UNDO)" "$("$AMBER" show "$E2E_TMP/img" | grep SEM_UNDO)" \
  "the adjustments read by the second dump are the first one's"

note "a restore failing at restore.sem-undo leaves nothing behind"
run_cmd env AMBER_FAULT=restore.sem-undo "$AMBER" restore -D "$E2E_TMP/img"
assert_eq 1 "$STATUS" "restore with fault restore.sem-undo (stderr: $ERR)"
assert_nothing_left "$n"

"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
assert_eq "$before" "$(sems_of "$n")" "semaphore set after the restore"
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
log=$(cat "$AMBER_STATE_DIR/$n/log")
assert_contains "$log" "semundo: OK" "workload verdict (released when the holder exited)"
assert_not_contains "$log" "FAIL" "workload failures"
"$AMBER" kill "$n" >/dev/null 2>&1 || true

note "an image whose adjustment is beyond SEMAEM is refused before anything is made"
edit="$WORKLOADS/image_edit"
cp -a "$E2E_TMP/img" "$E2E_TMP/img-bad"
"$edit" "$E2E_TMP/img-bad" decode container.img > "$E2E_TMP/c.txt"
grep -q "adj: 1$" "$E2E_TMP/c.txt" || fail "no adjustment 1 in the image: $(grep -A3 undo "$E2E_TMP/c.txt")"
sed -e 's/adj: 1$/adj: 40000/' "$E2E_TMP/c.txt" | "$edit" "$E2E_TMP/img-bad" encode container.img
run_cmd "$AMBER" restore -D "$E2E_TMP/img-bad"
assert_eq 2 "$STATUS" "restore of an adjustment beyond SEMAEM (stderr: $ERR)"
assert_contains "$ERR" "SEM_UNDO adjustment 40000 of task" "the refusal"
assert_nothing_left "$n"

note "a SEM_UNDO list shared by two processes (clone CLONE_SYSVSEM without CLONE_THREAD) is refused by name"
n=$(e2e_name shared)
"$AMBER" run --name "$n" -- "$wl" shared >/dev/null
wait_until 10 grep -q "semundo: READY" "$AMBER_STATE_DIR/$n/log"
assert_fails 4 "share one SysV semaphore undo list (clone with CLONE_SYSVSEM without CLONE_THREAD)" \
  "$AMBER" dump "$n" -D "$E2E_TMP/shared"
[ ! -e "$E2E_TMP/shared" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
"$AMBER" kill "$n" >/dev/null
