# A real sqlite3 (Debian's CLI) with a database open between transactions,
# reading its commands from a FIFO a shell of the container feeds: rows
# inserted before the dump, the container dumped (gone), a row added from
# the host meanwhile, restored; the same session (its in-memory TEMP table
# is still there) sees the host's row and inserts more rows, which a
# separate sqlite3 on the host finds in the same database file.
# Then dumped again in the middle of a write transaction: its file locks
# come back with it (the host still cannot write, nor see the uncommitted
# rows), and its COMMIT after restore lands in the file. In WAL mode too:
# its -shm file mapped MAP_SHARED and POSIX-locked (the lock that tells a
# new connection not to reset the WAL index) comes back, the host and the
# restored session both write, and each sees the other's rows.
. "$E2E_LIB"

command -v sqlite3 >/dev/null || e2e_skip "sqlite3 is not installed (scripts/setup.sh installs it)"
prog="$E2E_BIN/sqlfeed.sh"
cp "$(dirname "$E2E_LIB")/programs/sqlfeed.sh" "$prog"
db="$E2E_BIN/test.db"

n=$(e2e_name sq)
log="$AMBER_STATE_DIR/$n/log"
"$AMBER" run --name "$n" -- /bin/sh "$prog" "$db" >/dev/null
# batch N: the commands on stdin, handed to the container's feeder.
batch() { "$AMBER" exec "$n" -- sh -c "cat >/tmp/b.tmp && mv /tmp/b.tmp /tmp/batch$1.sql"; }
q() { sqlite3 -batch "$db" "$1"; }

batch 0 <<'SQL'
PRAGMA temp_store = MEMORY;
CREATE TABLE t(id INTEGER PRIMARY KEY, phase TEXT, v TEXT);
CREATE TEMP TABLE pending(v TEXT);
INSERT INTO pending VALUES ('from-temp-1'), ('from-temp-2'), ('from-temp-3');
BEGIN;
INSERT INTO t(phase, v) SELECT 'before', 'row' || value FROM generate_series(1, 100);
COMMIT;
.print BATCH0 DONE
SQL
wait_until 60 grep -q '^BATCH0 DONE' "$log"
assert_eq 100 "$(q "SELECT count(*) FROM t")" "rows before the dump"
sq=$(pgrep -P "$(init_pid "$n")" -x sqlite3) || fail "no sqlite3 in the container"
dbfd=$(for f in /proc/$sq/fd/*; do [ "$(readlink "$f")" = "$db" ] && echo "${f##*/}"; done)
[ -n "$dbfd" ] || fail "sqlite3 does not hold $db open"
note "sqlite3 pid $sq has $db open as fd $dbfd"
ino=$(stat -c %i "$db")

"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$sq"
# Meanwhile, from the host: the restored session must see this row (it
# reads the file again, not a copy of its cache).
q "INSERT INTO t(phase, v) VALUES ('host', 'while-dumped')"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
sq2=$(pgrep -P "$(init_pid "$n")" -x sqlite3) || fail "no sqlite3 after restore"
assert_eq "$db" "$(readlink "/proc/$sq2/fd/$dbfd")" "sqlite3's fd $dbfd after restore"

batch 1 <<'SQL'
BEGIN;
INSERT INTO t(phase, v) SELECT 'after', v FROM temp.pending;
INSERT INTO t(phase, v) SELECT 'after', 'row' || value FROM generate_series(101, 200);
COMMIT;
SELECT 'COUNTS', group_concat(phase || '=' || c, ' ') FROM (SELECT phase, count(*) AS c FROM t GROUP BY phase ORDER BY phase);
.print BATCH1 DONE
SQL
wait_until 60 grep -q '^BATCH1 DONE' "$log"
note "log: $(cat "$log")"
assert_contains "$(cat "$log")" "COUNTS|after=103 before=100 host=1" "what the restored session sees"
assert_eq "$ino" "$(stat -c %i "$db")" "the database file's inode"
assert_eq "after=103 before=100 host=1" \
  "$(q "SELECT group_concat(phase || '=' || c, ' ') FROM (SELECT phase, count(*) AS c FROM t GROUP BY phase ORDER BY phase)")" \
  "rows the host finds in the file"
assert_eq "from-temp-1 from-temp-2 from-temp-3" "$(q "SELECT group_concat(v, ' ') FROM (SELECT v FROM t WHERE v LIKE 'from-temp-%' ORDER BY v)")" \
  "rows copied from the session's TEMP table"
assert_eq 200 "$(q "SELECT count(DISTINCT v) FROM t WHERE v LIKE 'row%'")" "distinct numbered rows"
assert_eq ok "$(q "PRAGMA integrity_check")" "integrity of the database"
assert_not_contains "$(cat "$log")" "Error" "sqlite3 errors"

note "in the middle of a transaction"
batch 2 <<'SQL'
BEGIN;
INSERT INTO t(phase, v) SELECT 'txn', 'row' || value FROM generate_series(201, 250);
.print BATCH2 IN TRANSACTION
SQL
wait_until 60 grep -q '^BATCH2 IN TRANSACTION' "$log"
# locked_for_host: a write from the host fails with SQLITE_BUSY (no wait).
locked_for_host() {
  run_cmd sqlite3 -batch "$db" "INSERT INTO t(phase, v) VALUES ('host', 'must-not-land')"
  [ "$STATUS" = 5 ] && [[ "$ERR" == *"database is locked"* ]]
}
locked_for_host || fail "the host could write during sqlite3's transaction (exit $STATUS: $ERR)"
"$AMBER" dump "$n" -D "$E2E_TMP/img-txn"
assert_nothing_left "$n" "$sq2"
run_cmd "$AMBER" show "$E2E_TMP/img-txn"
assert_contains "$OUT" "lock: posix write" "the image lists sqlite3's locks"
"$AMBER" restore -D "$E2E_TMP/img-txn" >/dev/null
sq3=$(pgrep -P "$(init_pid "$n")" -x sqlite3) || fail "no sqlite3 after the second restore"
grep -q "POSIX  ADVISORY  WRITE $sq3 [0-9a-f:]*:$ino " /proc/locks ||
  fail "the restored sqlite3 ($sq3) holds no write lock on the database: $(cat /proc/locks)"
locked_for_host || fail "the host could write after restore: the transaction's locks are gone (exit $STATUS: $ERR)"
assert_eq 0 "$(q "SELECT count(*) FROM t WHERE phase = 'txn'")" "uncommitted rows the host sees"
batch 3 <<'SQL'
COMMIT;
.print BATCH3 COMMITTED
SQL
wait_until 60 grep -q '^BATCH3 COMMITTED' "$log"
assert_eq 50 "$(q "SELECT count(*) FROM t WHERE phase = 'txn'")" "committed rows the host sees"
q "INSERT INTO t(phase, v) VALUES ('host', 'after-commit')"
assert_eq 0 "$(q "SELECT count(*) FROM t WHERE v = 'must-not-land'")" "rows of the refused host writes"
assert_eq ok "$(q "PRAGMA integrity_check")" "integrity of the database after the transaction"
assert_not_contains "$(cat "$log")" "Error" "sqlite3 errors"
"$AMBER" kill "$n"

note "WAL mode"
wal="$E2E_BIN/wal.db"
q2() { sqlite3 -batch "$wal" "$1"; }
q2 "PRAGMA journal_mode = WAL; CREATE TABLE t(v TEXT);" >/dev/null
n=$(e2e_name wal)
log="$AMBER_STATE_DIR/$n/log"
"$AMBER" run --name "$n" -- /bin/sh "$prog" "$wal" >/dev/null
batch 0 <<'SQL'
INSERT INTO t VALUES ('one');
.print WAL0 DONE
SQL
wait_until 60 grep -q '^WAL0 DONE' "$log"
sq=$(pgrep -P "$(init_pid "$n")" -x sqlite3) || fail "no sqlite3 in the WAL container"
grep -q ' rw-s .*wal.db-shm$' "/proc/$sq/maps" || fail "sqlite3 does not map wal.db-shm"
shm_ino=$(stat -c %i "$wal-shm")
grep -q "POSIX  ADVISORY  READ $sq [0-9a-f:]*:$shm_ino " /proc/locks || fail "sqlite3 holds no lock on wal.db-shm"
"$AMBER" dump "$n" -D "$E2E_TMP/img-wal"
assert_nothing_left "$n" "$sq"
"$AMBER" restore -D "$E2E_TMP/img-wal" >/dev/null
sq2=$(pgrep -P "$(init_pid "$n")" -x sqlite3) || fail "no sqlite3 after restoring the WAL container"
grep -q ' rw-s .*wal.db-shm$' "/proc/$sq2/maps" || fail "the restored sqlite3 does not map wal.db-shm"
grep -q "POSIX  ADVISORY  READ $sq2 [0-9a-f:]*:$shm_ino " /proc/locks ||
  fail "the restored sqlite3 ($sq2) holds no lock on wal.db-shm: $(cat /proc/locks)"
q2 "INSERT INTO t VALUES ('host')"
batch 1 <<'SQL'
INSERT INTO t VALUES ('two');
SELECT 'WALROWS', group_concat(v, ' ') FROM (SELECT v FROM t ORDER BY v);
.print WAL1 DONE
SQL
wait_until 60 grep -q '^WAL1 DONE' "$log"
assert_contains "$(cat "$log")" "WALROWS|host one two" "what the restored session sees"
assert_eq "host one two" "$(q2 "SELECT group_concat(v, ' ') FROM (SELECT v FROM t ORDER BY v)")" "rows the host sees"
assert_eq ok "$(q2 "PRAGMA integrity_check")" "integrity of the WAL database"
assert_not_contains "$(cat "$log")" "Error" "sqlite3 errors (WAL)"
"$AMBER" kill "$n"
