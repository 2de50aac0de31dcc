# A seal check that fails or is interrupted while it holds the container
# leaves it running exactly as before: every fault point of `amber check`,
# and SIGINT while the container is held.
. "$E2E_LIB"

n=$(e2e_name f)
"$AMBER" run --name "$n" -- sh -c 'sleep 1000 & exec sleep 1001' >/dev/null
pid=$(init_pid "$n")
wait_until 5 eval 'test "$(wc -l <"$AMBER_CGROUP_ROOT/$n/cgroup.procs")" = 2'
before=$(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs" | sort)
masks() { for t in $before; do grep -E '^Sig(Blk|Cgt|Ign)' /proc/$t/status; done; }
masks_before=$(masks)

points=$("$AMBER" check --list-fault-points)
[ -n "$points" ] || fail "no fault points listed"
for p in $points; do
  note "fault at $p"
  run_cmd env AMBER_FAULT="$p" "$AMBER" check "$n"
  assert_eq 1 "$STATUS" "check with a fault at $p"
  assert_contains "$ERR" "fault injected at $p" "error message"
  assert_held_nothing "$n"
  assert_eq "$before" "$(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs" | sort)" "tasks after a fault at $p"
  assert_eq "$masks_before" "$(masks)" "signal masks after a fault at $p"
done

note "SIGINT while the container is held"
AMBER_PAUSE_AT=check.held "$AMBER" check "$n" 2>"$E2E_TMP/err" >/dev/null &
checker=$!
e2e_track "$checker"
wait_until 10 grep -q "paused at check.held" "$E2E_TMP/err"
assert_ne 0 "$(awk '/^TracerPid:/ { print $2 }' /proc/$pid/status)" "TracerPid while held"
kill -INT "$checker"
set +e; wait "$checker"; rc=$?; set -e
assert_eq 1 "$rc" "exit status of an interrupted check ($(cat "$E2E_TMP/err"))"
assert_contains "$(cat "$E2E_TMP/err")" "interrupted by SIGINT" "message"
assert_held_nothing "$n"
assert_eq "$masks_before" "$(masks)" "signal masks after SIGINT"
assert_sealed "$n"
