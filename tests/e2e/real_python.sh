# A real python3 (Debian's /usr/bin/python3, dynamically linked, its own
# allocator) holding a dict of about 200 MB: dumped (the container is gone),
# restored, and asked on SIGUSR1 to walk the whole dict again; the checksum
# it computes after restore must be the one it computed when it built it.
. "$E2E_LIB"

py=/usr/bin/python3
[ -x "$py" ] || e2e_skip "$py is not installed (scripts/setup.sh installs python3)"
prog="$E2E_BIN/bigdict.py"
cp "$(dirname "$E2E_LIB")/programs/bigdict.py" "$prog"
entries=400000

n=$(e2e_name py)
log="$AMBER_STATE_DIR/$n/log"
"$AMBER" run --name "$n" -- "$py" "$prog" "$entries" >/dev/null
pid=$(init_pid "$n")
# Building 400,000 entries takes a few seconds, much longer on a loaded host.
wait_until 180 grep -q '^READY ' "$log"
ready=$(grep '^READY ' "$log")
read -r _ count sum <<<"$ready"
assert_eq "$entries" "$count" "entries built"
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
note "python3 pid $pid: $ready, VmRSS $rss kB"
[ "$rss" -ge 200000 ] || fail "python3 holds only $rss kB, expected at least 200 MB"
# It answers before the dump too (the check itself works).
kill -USR1 "$pid"
wait_until 120 grep -q "^OK $entries $sum\$" "$log"
wait_until 10 grep -q '^State:.*S (sleeping)' "/proc/$pid/status"

"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
assert_eq 1 "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid2/status")" "python3 is pid 1 inside again"
rss2=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid2/status")
note "restored python3 pid $pid2: VmRSS $rss2 kB"
# The log may or may not keep what was written before the dump: count.
readies=$(grep -c '^READY' "$log" || true)
answered=$(grep -Ec '^(OK|FAIL) ' "$log" || true)
kill -USR1 "$pid2"
wait_until 120 eval '[ "$(grep -Ec "^(OK|FAIL) " "$log")" -gt "$answered" ]'
answer=$(grep -E '^(OK|FAIL) ' "$log" | tail -1)
note "after restore: $answer"
assert_eq "OK $entries $sum" "$answer" "checksum of the dict after restore"
assert_eq "$readies" "$(grep -c '^READY' "$log" || true)" "READY lines (python3 must not start over)"
proc_alive "$pid2" || fail "python3 died after answering"
"$AMBER" kill "$n"
