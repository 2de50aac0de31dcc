# Seal check, leak class 10: a task in the container's cgroup but outside
# its pid namespace, and one in its pid namespace but outside its cgroup.
. "$E2E_LIB"

n=$(e2e_name cg)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
pid=$(init_pid "$n")
cg="$AMBER_CGROUP_ROOT/$n"

note "a host task moved into the container's cgroup"
sleep 1000 &
intruder=$!
e2e_track "$intruder"
echo "$intruder" >"$cg/cgroup.procs"
assert_leak "$n" cgroup-pidns "$intruder"
assert_contains "$OUT" "outside the pid namespace" "what is wrong"
kill "$intruder"; wait "$intruder" 2>/dev/null || true
assert_sealed "$n"

note "a task in the pid namespace, outside the cgroup"
nsenter -t "$pid" -p sleep 1000 &
wrapper=$!
e2e_track "$wrapper"
wait_until 5 pgrep -P "$wrapper"
stray=$(pgrep -P "$wrapper")
assert_leak "$n" cgroup-pidns "$stray"
assert_contains "$OUT" "outside the cgroup" "what is wrong"
kill "$stray" "$wrapper" 2>/dev/null; wait "$wrapper" 2>/dev/null || true
wait_until 5 sh -c "! kill -0 $stray"
assert_sealed "$n"
