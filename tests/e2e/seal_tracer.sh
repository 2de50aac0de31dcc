# Seal check, leak class 9: a container task traced by an outside tracer.
# amber cannot seize it (one tracer per task); the check reports the tracer
# and still releases everything else it held.
. "$E2E_LIB"

outside=$(e2e_workload outside)
n=$(e2e_name tracer)
"$AMBER" run --name "$n" -- sh -c 'sleep 1000 & exec sleep 1001' >/dev/null
pid=$(init_pid "$n")
wait_until 5 eval 'test "$(wc -l <"$AMBER_CGROUP_ROOT/$n/cgroup.procs")" = 2'
child=""
for t in $(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs"); do [ "$t" != "$pid" ] && child=$t; done

"$outside" trace "$child" >"$E2E_TMP/ready" &
tracer=$!
e2e_track "$tracer"
wait_until 5 grep -q ready "$E2E_TMP/ready"
run_cmd "$AMBER" check "$n"
assert_eq 3 "$STATUS" "check of a traced container ($ERR)"
assert_contains "$OUT" "(tracer)" "class"
assert_contains "$OUT" "outside: pid $tracer (" "the tracer is named"
assert_eq "$tracer" "$(awk '/^TracerPid:/ { print $2 }' /proc/$child/status)" "the outside tracer still traces"
assert_eq 0 "$(awk '/^TracerPid:/ { print $2 }' /proc/$pid/status)" "the init is released"
assert_eq running "$(ps_state "$n")" "state"
assert_eq "frozen 0" "$(grep '^frozen' "$AMBER_CGROUP_ROOT/$n/cgroup.events")" "not frozen"

note "dump refuses it too"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_eq 3 "$STATUS" "dump of a traced container ($ERR)"
[ ! -e "$E2E_TMP/img" ] || fail "a refused dump left an image"

kill "$tracer"; wait "$tracer" 2>/dev/null || true
wait_until 5 eval 'test "$(awk "/^TracerPid:/ { print \$2 }" /proc/$child/status)" = 0'
assert_sealed "$n"
