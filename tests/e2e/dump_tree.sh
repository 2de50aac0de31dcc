# A tree of 20 processes in 3 sessions and 5 process groups with 2 zombies,
# an orphaned subtree whose session leader is dead and a task in another
# group than its parent's: dumped, killed, restored with every pid, parent,
# group, session and zombie status as before; the init then checks groups
# and sessions itself and reaps the zombies with their statuses.
. "$E2E_LIB"

wl=$(e2e_workload tree)
n=$(e2e_name tree)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "tree: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
before=$(container_tree "$n")
note "before the dump:"
echo "$before"
assert_eq 20 "$(echo "$before" | wc -l)" "processes"
assert_eq 3 "$(echo "$before" | awk '{ print $4 }' | sort -u | wc -l)" "sessions"
assert_eq 5 "$(echo "$before" | awk '{ print $3 }' | sort -u | wc -l)" "process groups"
assert_eq 2 "$(echo "$before" | awk '$5 == "Z"' | wc -l)" "zombies"

"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
run_cmd "$AMBER" show "$E2E_TMP/img"
assert_contains "$OUT" "process tree (20 tasks" "amber show"
assert_contains "$OUT" "zombie (exit status 1792)" "amber show: the zombie that exited 7"

"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
after=$(container_tree "$n")
assert_eq "$before" "$after" "the process tree after restore"
for p in $(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs"); do
  assert_eq 0 "$(awk '/^TracerPid:/ { print $2 }' /proc/$p/status)" "TracerPid of $p"
done

kill -USR1 "$pid2"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "tree: OK 20 processes" "workload verdict"
