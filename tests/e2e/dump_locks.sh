# File locks: a process holding POSIX locks (write and read ranges, one on
# a file it maps MAP_SHARED), an OFD lock and a flock() is dumped and
# restored; the kernel lists the same locks for the restored process
# (/proc/locks), and a child it forks finds each lock still excluding it and
# the bytes between free. (sqlite3 mid-transaction and in WAL mode:
# real_sqlite.sh.)
. "$E2E_LIB"

wl=$(e2e_workload locks)
n=$(e2e_name locks)
log="$AMBER_STATE_DIR/$n/log"
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "locks: READY" "$log"
pid=$(init_pid "$n")
# locks_of PID: "KIND TYPE START END" of every lock PID holds (OFD locks
# show pid -1: those of the files PID has open).
locks_of() {
  local inodes
  inodes=$(for f in /proc/$1/fd/*; do stat -L -c %i "$f"; done | sort -u | xargs | tr ' ' '|')
  awk -v pid="$1" -v ino="^($inodes)\$" '{ split($6, d, ":") } ($5 == pid || $5 == -1) && d[3] ~ ino { print $2, $4, $7, $8 }' /proc/locks | sort
}
before=$(locks_of "$pid")
note "locks before the dump:"
echo "$before"
assert_eq 5 "$(echo "$before" | wc -l)" "locks held"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
run_cmd "$AMBER" show "$E2E_TMP/img"
assert_contains "$OUT" "lock: ofd write bytes 20-29" "amber show"
assert_contains "$OUT" "lock: posix write bytes 0-99 (taken after the mappings)" "amber show"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
assert_eq "$before" "$(locks_of "$pid2")" "locks after restore"
kill -USR1 "$pid2"
wait_until 10 eval 'case "$(ps_state "$n")" in stopped*) true ;; *) false ;; esac'
assert_contains "$(cat "$log")" "locks: OK" "workload verdict"
assert_eq "stopped (exit 0)" "$(ps_state "$n")" "exit status"
