# A container frozen by hand (as a crashed dump would leave it): ps says
# frozen, exec refuses, amber thaw repairs it, amber kill works on it too.
. "$E2E_LIB"

n=$(e2e_name frz)
"$AMBER" run --name "$n" -- sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done' >/dev/null
cg="$AMBER_CGROUP_ROOT/$n"
count() { "$AMBER" exec "$n" -- cat /tmp/count; }
wait_until 5 "$AMBER" exec "$n" -- test -s /tmp/count

note "freeze by hand"
echo 1 >"$cg/cgroup.freeze"
wait_until 5 grep -qx 'frozen 1' "$cg/cgroup.events"
assert_eq frozen "$(ps_state "$n")" "ps STATE of a frozen container"
assert_fails 2 "container $n is frozen" "$AMBER" exec "$n" -- true
pid=$(init_pid "$n")

note "thaw"
out=$("$AMBER" thaw "$n")
assert_contains "$out" "thawed" "amber thaw output"
assert_eq 0 "$(cat "$cg/cgroup.freeze")" "cgroup.freeze after thaw"
grep -qx 'frozen 0' "$cg/cgroup.events" || fail "cgroup.events after thaw: $(cat "$cg/cgroup.events")"
assert_eq running "$(ps_state "$n")" "ps STATE after thaw"
c1=$(count)
wait_until 5 sh -c "[ \$('$AMBER' exec '$n' -- cat /tmp/count) -gt $c1 ]"
out=$("$AMBER" thaw "$n")
assert_contains "$out" "was not frozen" "amber thaw of a running container"

note "kill a frozen container"
echo 1 >"$cg/cgroup.freeze"
wait_until 5 grep -qx 'frozen 1' "$cg/cgroup.events"
shim=$(awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[2] }' /proc/$pid/stat)
"$AMBER" kill "$n"
assert_nothing_left "$n" "$pid" "$shim"
