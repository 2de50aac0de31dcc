# A memfd holding an ELF that the task executes with execveat (issue 11):
# after a real dump, kill and restore the task execs it again (no ETXTBSY:
# the memfd_create description is restored as one the kernel does not count
# as a writer) and writes it.
. "$E2E_LIB"

wl=$(e2e_workload memfd_exec)
n=$(e2e_name mx)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "memfd_exec: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
kill -USR1 "$pid2"
wait_until 10 eval 'case "$(ps_state "$n")" in stopped*) true ;; *) false ;; esac'
log=$(cat "$AMBER_STATE_DIR/$n/log")
assert_contains "$log" "memfd_exec: OK" "workload verdict"
assert_eq "stopped (exit 0)" "$(ps_state "$n")" "exit status"

# A static program that re-exec'ed itself from the memfd: its executable and
# its code are the memfd's (private mappings of it); after restore it is
# still (exe link, writers denied), its .data pattern is intact, and it
# execs the memfd again.
n=$(e2e_name self)
"$AMBER" run --name "$n" -- "$wl" self >/dev/null
wait_until 10 grep -q "memfd_exec: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
assert_eq "/memfd:payload (deleted)" "$(readlink /proc/$pid/exe)" "self: executable before the dump"
"$AMBER" dump "$n" -D "$E2E_TMP/img-self"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img-self" >/dev/null
pid2=$(init_pid "$n")
assert_eq "/memfd:payload (deleted)" "$(readlink /proc/$pid2/exe)" "self: executable after restore"
kill -USR1 "$pid2"
wait_until 10 eval 'case "$(ps_state "$n")" in stopped*) true ;; *) false ;; esac'
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "memfd_exec: OK self" "self: workload verdict"
assert_eq "stopped (exit 0)" "$(ps_state "$n")" "self: exit status"
