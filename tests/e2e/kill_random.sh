# amber dump SIGKILLed at random instants (not only at fault points): after
# each kill the next amber command repairs what was left, the container runs
# on exactly as before (or, if the dump finished first, the image restores),
# and at the end the workload finds every byte of its memory and its
# blocking wait4 intact. This is how a user kills amber: kill -9 at any time.
. "$E2E_LIB"

wl=$(e2e_workload memstate)
n=$(e2e_name r)
"$AMBER" run --name "$n" -- "$wl" wait4 /tmp/memstate.data >/dev/null
wait_until 10 grep -q "memstate: READY" "$AMBER_STATE_DIR/$n/log"
sleep 0.2

snapshot() { task_snapshot "$n" "$@"; }

# How long a whole dump takes here: the kills land anywhere in it.
"$AMBER" dump "$n" -D "$E2E_TMP/probe" --leave-running >/dev/null
start=$(date +%s%N)
"$AMBER" dump "$n" -D "$E2E_TMP/probe2" --leave-running >/dev/null
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 20 ))
note "a dump takes about $span_ms ms; killing within that"

killed=0 finished=0
for round in $(seq 1 16); do
  t=$(init_and_children "$n")
  before=$(snapshot $t)
  delay=$((RANDOM % span_ms))
  "$AMBER" dump "$n" -D "$E2E_TMP/img-$round" >/dev/null 2>&1 &
  dumper=$!
  sleep "$(printf '0.%03d' "$delay")"
  kill -9 "$dumper" 2>/dev/null || true
  wait "$dumper" 2>/dev/null || true
  run_cmd "$AMBER" ps
  assert_eq 0 "$STATUS" "amber ps after the kill in round $round (stderr: $ERR)"
  journal_empty || fail "round $round: a journal is left"
  ls -d "$E2E_TMP"/img-$round.tmp* >/dev/null 2>&1 && fail "round $round: a temporary image is left"
  if [ -e "$E2E_TMP/img-$round" ]; then
    # The dump had finished (or got past its commit and killed the tasks).
    finished=$((finished + 1))
    assert_ne running "$(ps_state "$n" 2>/dev/null || echo gone)" "round $round: container after a finished dump"
    "$AMBER" kill "$n" >/dev/null 2>&1 || true
    "$AMBER" restore -D "$E2E_TMP/img-$round" >/dev/null
    wait_until 10 ps_state_is "$n" running
  else
    killed=$((killed + 1))
    assert_eq running "$(ps_state "$n")" "round $round (killed after $delay ms): state"
    assert_eq "$before" "$(snapshot $t)" "round $round (killed after $delay ms): the container"
  fi
done
note "$killed dumps killed midway, $finished finished before the kill"
[ "$killed" -ge 4 ] || fail "only $killed of 16 kills landed inside a dump: the test did not test much"

t=$(init_and_children "$n")
kill -USR1 "${t#* }"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "memstate: OK" "workload verdict after the kills"
