# Every fault point of dump and restore, failed in turn, on a container of
# two processes (memstate's wait4 mode: the init waits for a child). A
# failed dump leaves the container running exactly as before (maps, fds and
# positions, signal masks, no tracer, thawed) and no image; a failed restore
# leaves nothing behind (no task, cgroup, shim or state) and the image
# untouched.
. "$E2E_LIB"

n=$(e2e_name f)
run_wait4_pair "$n"

snapshot() { task_snapshot "$n" "$@"; }
before=$(snapshot "$pid" "$child")
points=$("$AMBER" dump --list-fault-points)
[ "$(echo "$points" | wc -l)" -ge 5 ] || fail "too few dump fault points: $points"
for p in $points; do
  note "dump fails at $p"
  dump_fails_at "$p" "$n"
  assert_eq "$before" "$(snapshot "$pid" "$child")" "container after a dump failed at $p"
done

note "the container still works: dump it for the restore faults"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
sum_before=$(cd "$E2E_TMP/img" && find . -type f -exec sha1sum {} + | sort)
our_cgroups() { ls "$AMBER_CGROUP_ROOT" 2>/dev/null | grep -c "^$E2E_PREFIX" || true; }
cgroups_before=$(our_cgroups)
for p in $("$AMBER" restore --list-fault-points); do
  note "restore fails at $p"
  run_cmd env AMBER_FAULT="$p" "$AMBER" restore -D "$E2E_TMP/img"
  assert_eq 1 "$STATUS" "restore with fault $p: exit status (stderr: $ERR)"
  assert_contains "$ERR" "fault injected at $p" "restore with fault $p"
  assert_nothing_left "$n"
  assert_eq "$cgroups_before" "$(our_cgroups)" "cgroups after restore failed at $p"
  # A half-restored init is still amber's own process image, or already the workload's.
  pgrep -f "restore -D $E2E_TMP/img" >/dev/null && fail "restore failed at $p left a process: $(pgrep -af "restore -D $E2E_TMP/img")"
  assert_eq "$sum_before" "$(cd "$E2E_TMP/img" && find . -type f -exec sha1sum {} + | sort)" "image after fault $p"
done

note "and the image restores after all that"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
proc_alive "$pid2" || fail "restored task is not running: $(ps_state "$n"); log: $(cat "$AMBER_STATE_DIR/$n/log")"
kill -USR1 "$(cat /proc/$pid2/task/$pid2/children | xargs)"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "memstate: OK" "workload verdict after the fault runs"
