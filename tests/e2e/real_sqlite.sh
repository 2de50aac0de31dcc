# A real sqlite3 (Debian's CLI) with a database open between transactions,
# reading its commands from a FIFO a shell of the container feeds: rows
# inserted before the dump, the container dumped (gone), a row added from
# the host meanwhile, restored; the same session (its in-memory TEMP table
# is still there) sees the host's row and inserts more rows, which a
# separate sqlite3 on the host finds in the same database file.
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
"$AMBER" kill "$n"
