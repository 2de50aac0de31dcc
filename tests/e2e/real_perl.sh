# A real perl (Debian's /usr/bin/perl with Digest::MD5) holding a hash of
# 500,000 entries (about 150 MB): dumped (the container is gone), restored,
# and asked on SIGUSR1 to walk the whole hash again; the checksum it
# computes after restore must be the one it computed when it built it.
. "$E2E_LIB"

pl=/usr/bin/perl
[ -x "$pl" ] || e2e_skip "$pl is not installed (scripts/setup.sh installs perl)"
"$pl" -MDigest::MD5 -e 1 2>/dev/null || e2e_skip "perl has no Digest::MD5 (scripts/setup.sh installs perl)"
prog="$E2E_BIN/bighash.pl"
cp "$(dirname "$E2E_LIB")/programs/bighash.pl" "$prog"
entries=500000

n=$(e2e_name pl)
log="$AMBER_STATE_DIR/$n/log"
"$AMBER" run --name "$n" -- "$pl" "$prog" "$entries" >/dev/null
pid=$(init_pid "$n")
wait_until 180 grep -q '^READY ' "$log"
ready=$(grep '^READY ' "$log")
read -r _ count sum <<<"$ready"
assert_eq "$entries" "$count" "entries built"
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
note "perl pid $pid: $ready, VmRSS $rss kB"
[ "$rss" -ge 100000 ] || fail "perl holds only $rss kB, expected more than 100 MB"
kill -USR1 "$pid"
wait_until 120 grep -q "^OK $entries $sum\$" "$log"
wait_until 10 grep -q '^State:.*S (sleeping)' "/proc/$pid/status"

"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
assert_eq 1 "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid2/status")" "perl is pid 1 inside again"
# The log may or may not keep what was written before the dump: count.
readies=$(grep -c '^READY' "$log" || true)
answered=$(grep -Ec '^(OK|FAIL) ' "$log" || true)
kill -USR1 "$pid2"
wait_until 120 eval '[ "$(grep -Ec "^(OK|FAIL) " "$log")" -gt "$answered" ]'
answer=$(grep -E '^(OK|FAIL) ' "$log" | tail -1)
note "after restore: $answer"
assert_eq "OK $entries $sum" "$answer" "checksum of the hash after restore"
assert_eq "$readies" "$(grep -c '^READY' "$log" || true)" "READY lines (perl must not start over)"
proc_alive "$pid2" || fail "perl died after answering"
"$AMBER" kill "$n"
