# amber SIGKILLed at every fault point of dump, check and restore
# (AMBER_FAULT_MODE=kill: no destructor, no cleanup runs). The next amber
# command (here `amber ps`) must repair what the killed one left: a dump or
# check leaves the container running exactly as before (maps, fds and
# positions, signal masks, no tracer, thawed) and no image; a restore leaves
# nothing (no task, cgroup, shim or state) and the image untouched. Same
# container and checks as dump_faults.sh, whose points are the same.
. "$E2E_LIB"

n=$(e2e_name k)
run_wait4_pair "$n"

snapshot() { task_snapshot "$n" "$@"; }
journals() { ls "$AMBER_STATE_DIR/.journal/" 2>/dev/null | grep -c '\.pb$' || true; }
before=$(snapshot "$pid" "$child")

# kill_at VERB POINT ARGS...: amber VERB dies at POINT; then `amber ps` repairs.
kill_at() {
  local verb=$1 p=$2
  shift 2
  note "$verb killed at $p"
  run_cmd env AMBER_FAULT="$p" AMBER_FAULT_MODE=kill "$AMBER" "$verb" "$@"
  assert_eq 137 "$STATUS" "$verb killed at $p: exit status (stderr: $ERR)"
  run_cmd "$AMBER" ps
  assert_eq 0 "$STATUS" "amber ps after $verb killed at $p (stderr: $ERR)"
  assert_eq 0 "$(journals)" "journals left after the repair of $verb killed at $p"
}

for p in $("$AMBER" dump --list-fault-points); do
  kill_at dump "$p" "$n" -D "$E2E_TMP/img-$p"
  assert_eq running "$(ps_state "$n")" "state after dump killed at $p"
  [ ! -e "$E2E_TMP/img-$p" ] || fail "dump killed at $p left an image"
  ls -d "$E2E_TMP"/img-$p.tmp* >/dev/null 2>&1 && fail "dump killed at $p left a temporary image"
  assert_eq "$before" "$(snapshot "$pid" "$child")" "container after a dump killed at $p"
done
for p in $("$AMBER" check --list-fault-points); do
  kill_at check "$p" "$n"
  assert_held_nothing "$n"
  assert_eq "$before" "$(snapshot "$pid" "$child")" "container after a check killed at $p"
done

note "the container still works: dump it for the restore kills"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
sum_before=$(cd "$E2E_TMP/img" && find . -type f -exec sha1sum {} + | sort)
our_cgroups() { ls "$AMBER_CGROUP_ROOT" 2>/dev/null | grep -c "^$E2E_PREFIX" || true; }
cgroups_before=$(our_cgroups)
for p in $("$AMBER" restore --list-fault-points); do
  kill_at restore "$p" -D "$E2E_TMP/img"
  assert_nothing_left "$n"
  assert_eq "$cgroups_before" "$(our_cgroups)" "cgroups after restore killed at $p"
  assert_eq "$sum_before" "$(cd "$E2E_TMP/img" && find . -type f -exec sha1sum {} + | sort)" "image after restore killed at $p"
done

note "and the image restores after all that"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
proc_alive "$pid2" || fail "restored task is not running: $(ps_state "$n"); log: $(cat "$AMBER_STATE_DIR/$n/log")"
kill -USR1 "$(cat /proc/$pid2/task/$pid2/children | xargs)"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "memstate: OK" "workload verdict after the kills"
