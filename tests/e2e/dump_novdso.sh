# A program that unmapped its vdso (issue 11): dumped (no vdso recorded),
# killed, restored without one (the executor's last munmap then goes through
# a `syscall` of the program's own code); the workload checks its memory
# and that no vdso area came back.
. "$E2E_LIB"

wl=$(e2e_workload novdso)
n=$(e2e_name nv)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "novdso: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
grep -qE '\[(vdso|vvar)' "/proc/$pid/maps" && fail "the workload still has a vdso: $(cat /proc/$pid/maps)"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
grep -qE '\[(vdso|vvar)' "/proc/$pid2/maps" && fail "restored with a vdso: $(cat /proc/$pid2/maps)"
kill -USR1 "$pid2"
wait_until 10 eval 'case "$(ps_state "$n")" in stopped*) true ;; *) false ;; esac'
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "novdso: OK" "workload verdict"
assert_eq "stopped (exit 0)" "$(ps_state "$n")" "exit status"
