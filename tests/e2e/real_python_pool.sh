# python3 multiprocessing.Pool(4) with a multiprocessing.Value and its Lock
# (POSIX semaphore, heap arena in /dev/shm: unlinked files mapped shared,
# pipes between the pool's processes and threads), dumped mid-run, killed,
# restored: it finishes and the shared total is the right sum.
. "$E2E_LIB"

py=/usr/bin/python3
[ -x "$py" ] || e2e_skip "$py is not installed (scripts/setup.sh installs python3)"
prog="$E2E_BIN/pool.py"
cp "$(dirname "$E2E_LIB")/programs/pool.py" "$prog"
n=$(e2e_name pool)
"$AMBER" run --name "$n" -- "$py" "$prog" >/dev/null
wait_until 30 grep -q "pool: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
log=$(cat "$AMBER_STATE_DIR/$n/log" 2>/dev/null || true)
assert_not_contains "$log" "pool: OK" "the pool finished before the dump"
shown=$("$AMBER" show "$E2E_TMP/img")
assert_contains "$shown" "/dev/shm/" "the Value's arena or lock in /dev/shm"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
wait_until 60 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "pool: OK" "workload verdict"
