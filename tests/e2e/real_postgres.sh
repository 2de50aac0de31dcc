# A real PostgreSQL 15 (Debian's) in a --net veth container, run as the
# postgres user from a data directory the test makes with initdb, with two
# clients holding their connections across dump -> kill -> restore:
#   - psql inside the container (started by amber exec) over the unix socket
#     in the container's /tmp, reading SQL from a FIFO there: it writes 500
#     rows before the dump, and after the restore on the same session reads
#     them back (and the host client's) and writes more;
#   - a client on the host over TCP to the container's address
#     (programs/pg_client.py, the wire protocol by hand): 10,000 rows before,
#     after the restore the same backend reads them back and writes 10,000
#     more.
# Then new connections of both kinds (amber exec psql, psql from the host)
# see every row. The server's shared memory (SysV, POSIX /dev/shm of the
# container, the big anonymous shared mapping), its postmaster/backend tree
# and latches are all part of it. See server_helpers.bash for why the
# clients are quiet during the dump.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/server_helpers.bash"

pgbin=/usr/lib/postgresql/15/bin
[ -x "$pgbin/postgres" ] || e2e_skip "$pgbin/postgres is not installed (scripts/setup.sh installs postgresql)"
command -v psql >/dev/null || e2e_skip "psql is not installed"
id postgres >/dev/null 2>&1 || e2e_skip "no postgres user (the postgresql package makes it)"
client=$(srv_prog pg_client.py)

# The data directory, in a place the postgres user may reach.
chmod 711 "$E2E_BIN"
data="$E2E_BIN/pgdata"
install -d -o postgres -g postgres -m 700 "$data"
runuser -u postgres -- "$pgbin/initdb" -D "$data" -A trust -U postgres >"$E2E_TMP/initdb.log" 2>&1 ||
  fail "initdb: $(cat "$E2E_TMP/initdb.log")"
# Trust over the veth too: only the host side of this container's pair
# reaches it.
echo "host all all 0.0.0.0/0 trust" >>"$data/pg_hba.conf"

n=$(e2e_name pg)
"$AMBER" run --name "$n" --net veth -- runuser -u postgres -- "$pgbin/postgres" -D "$data" -k /tmp \
  -c listen_addresses='*' -p 5432 >/dev/null
wait_until 60 "$AMBER" exec "$n" -- "$pgbin/pg_isready" -q -h /tmp -p 5432
addr=$(srv_addr "$n")
[ -n "$addr" ] || fail "no address on the container's eth0"

# sql LINE...: SQL for the held psql; "\echo TAG" after it marks the end.
sql() { timeout 20 "$AMBER" exec "$n" -- sh -c 'printf "%s\n" "$@" >/tmp/psql.in' sh "$@" || fail "psql is not reading"; }
psql_out() { srv_file "$n" /tmp/psql.out; }

note "psql inside over the unix socket, a client on the host over TCP"
"$AMBER" exec -d "$n" -- sh -c 'mkfifo /tmp/psql.in && exec 3<>/tmp/psql.in && exec runuser -u postgres -- \
  psql -h /tmp -p 5432 -X -A -t <&3 3<&- >/tmp/psql.out 2>&1' >/dev/null
sql "SELECT 'backend ' || pg_backend_pid();" \
  "CREATE TABLE inside_t (k int PRIMARY KEY, v text);" \
  "INSERT INTO inside_t SELECT i, 'in-' || i FROM generate_series(1, 500) i;" '\echo MARK-1'
wait_until 30 eval 'psql_out | grep -q MARK-1'
backend=$(psql_out | sed -n 's/^backend //p')
[ -n "$backend" ] || fail "psql: no backend pid: $(psql_out)"
srv_host_client "$client" "$addr" 5432 10000
wait_until 60 grep -q "pg_client: READY" "$E2E_TMP/host.out"

note "dump -> kill -> restore"
srv_dump_restore "$n" pg_client

note "the same sessions after the restore"
srv_go_host
sql "SELECT 'backend ' || pg_backend_pid();" \
  "SELECT 'inside ' || count(*) || ' ' || sum(k) FROM inside_t WHERE v = 'in-' || k;" \
  "INSERT INTO inside_t SELECT i, 'in-' || i FROM generate_series(501, 1000) i;" \
  "SELECT 'inside now ' || count(*) FROM inside_t;" '\echo MARK-2'
wait_until 30 eval 'psql_out | grep -q MARK-2'
out=$(psql_out)
assert_not_contains "$out" "ERROR" "psql's session"
assert_eq "2" "$(printf '%s\n' "$out" | grep -c "^backend $backend\$")" "psql's backend before and after: $out"
assert_contains "$out" "inside 500 125250" "the rows psql wrote before the dump"
assert_contains "$out" "inside now 1000" "the rows psql wrote after the restore"
srv_host_verdict pg_client

note "new connections: amber exec psql over the unix socket, psql from the host over TCP"
q="SELECT (SELECT count(*) FROM inside_t) || ' ' || (SELECT count(*) FROM amber_t)"
want="1000 20000"
assert_eq "$want" "$("$AMBER" exec "$n" -- runuser -u postgres -- psql -h /tmp -p 5432 -X -A -t -c "$q")" \
  "a new psql inside"
assert_eq "$want" "$(timeout 30 psql -h "$addr" -p 5432 -U postgres -X -A -t -c "$q")" "a new psql from the host"
"$AMBER" kill "$n" >/dev/null
