# The scenario of real_python.sh and real_perl.sh (sourced after lib.sh): an
# interpreter builds a big structure, prints "READY <entries> <checksum>",
# and on every SIGUSR1 walks it again and prints "OK <entries> <checksum>"
# (or FAIL). It answers once before the dump (the check itself works), is
# dumped (the container is gone), restored, and must answer with the same
# checksum, as pid 1, without having started over.
#
#   checksum_roundtrip WHAT INTERPRETER PROGRAM ENTRIES MIN_RSS_KB
checksum_roundtrip() {
  local what=$1 interp=$2 prog=$3 entries=$4 min_rss=$5
  local n log pid ready count sum rss pid2 readies answered answer
  n=$(e2e_name "$what")
  log="$AMBER_STATE_DIR/$n/log"
  "$AMBER" run --name "$n" -- "$interp" "$prog" "$entries" >/dev/null
  pid=$(init_pid "$n")
  # Building the structure takes seconds, much longer on a loaded host.
  wait_until 180 grep -q '^READY ' "$log"
  ready=$(grep '^READY ' "$log")
  read -r _ count sum <<<"$ready"
  assert_eq "$entries" "$count" "entries built"
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
  note "$what pid $pid: $ready, VmRSS $rss kB"
  [ "$rss" -ge "$min_rss" ] || fail "$what holds only $rss kB, expected at least $min_rss kB"
  kill -USR1 "$pid"
  wait_until 120 grep -q "^OK $entries $sum\$" "$log"
  wait_until 10 grep -q '^State:.*S (sleeping)' "/proc/$pid/status"

  "$AMBER" dump "$n" -D "$E2E_TMP/img"
  assert_nothing_left "$n" "$pid"
  "$AMBER" restore -D "$E2E_TMP/img" >/dev/null
  pid2=$(init_pid "$n")
  assert_eq 1 "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid2/status")" "$what is pid 1 inside again"
  note "restored $what pid $pid2: VmRSS $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid2/status") kB"
  # The log may or may not keep what was written before the dump: count.
  readies=$(grep -c '^READY' "$log" || true)
  answered=$(grep -Ec '^(OK|FAIL) ' "$log" || true)
  kill -USR1 "$pid2"
  wait_until 120 eval '[ "$(grep -Ec "^(OK|FAIL) " "$log")" -gt "$answered" ]'
  answer=$(grep -E '^(OK|FAIL) ' "$log" | tail -1)
  note "after restore: $answer"
  assert_eq "OK $entries $sum" "$answer" "checksum after restore"
  assert_eq "$readies" "$(grep -c '^READY' "$log" || true)" "READY lines ($what must not start over)"
  proc_alive "$pid2" || fail "$what died after answering"
  "$AMBER" kill "$n"
}
