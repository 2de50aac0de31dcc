# A container whose init ends: ps says how (exit code or signal), exec
# refuses it, logs still work, kill cleans it up.
. "$E2E_LIB"

note "init exits 3"
n=$(e2e_name exit3)
"$AMBER" run --name "$n" -- sh -c 'echo bye; exit 3' >/dev/null
wait_until 10 ps_state_is "$n" "stopped (exit 3)"
assert_eq - "$(init_pid "$n")" "ps PID of a stopped container"
assert_eq "exit 3" "$(cat "$AMBER_STATE_DIR/$n/exit")" "the shim's exit record"
assert_eq bye "$("$AMBER" logs "$n")" "logs of a stopped container"
assert_fails 2 "container $n is stopped (exit 3)" "$AMBER" exec "$n" -- true
assert_fails 2 "is stopped" "$AMBER" thaw "$n"
"$AMBER" kill "$n"
assert_nothing_left "$n"

note "init killed by SIGKILL from the host"
n=$(e2e_name sig9)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
pid=$(init_pid "$n")
shim=$(awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[2] }' /proc/$pid/stat)
kill -KILL "$pid"
wait_until 10 ps_state_is "$n" "stopped (signal 9)"
# The shim recorded the status and went away by itself.
wait_until 10 sh -c "! grep -qs '^' /proc/$shim/cmdline || [ -z \"\$(tr -d '\\0' </proc/$shim/cmdline)\" ]"
assert_fails 2 "is stopped" "$AMBER" exec "$n" -- true
"$AMBER" kill "$n"
assert_nothing_left "$n" "$pid" "$shim"

note "the whole pid namespace goes with the init"
n=$(e2e_name tree)
"$AMBER" run --name "$n" -- sh -c 'sleep 1000 & sleep 1000 & exec sleep 1000' >/dev/null
pid=$(init_pid "$n")
wait_until 5 sh -c "[ \$(wc -l <'$AMBER_CGROUP_ROOT/$n/cgroup.procs') = 3 ]"
kids=$(grep -vx "$pid" "$AMBER_CGROUP_ROOT/$n/cgroup.procs" | xargs)
kill -KILL "$pid"
wait_until 10 ps_state_is "$n" "stopped (signal 9)"
for k in $kids; do proc_alive "$k" && fail "child $k of the dead init still running"; done
"$AMBER" kill "$n"
assert_nothing_left "$n" "$pid" $kids
