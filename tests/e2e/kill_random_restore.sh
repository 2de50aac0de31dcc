# amber restore and amber check SIGKILLed at random instants (not only at
# fault points). After a killed restore the next amber command removes
# everything it had made — no state directory, no cgroup, no process — or,
# if the restore had finished, the container runs; after a killed check the
# container runs on exactly as before. At the end a last restore runs and
# the workload finds every byte of its memory and its blocking wait4 intact:
# the image survived every killed restore.
. "$E2E_LIB"

wl=$(e2e_workload memstate)
n=$(e2e_name r)
"$AMBER" run --name "$n" -- "$wl" wait4 /tmp/memstate.data >/dev/null
wait_until 10 grep -q "memstate: READY" "$AMBER_STATE_DIR/$n/log"
sleep 0.2

snapshot() { task_snapshot "$n" "$@"; }
# No process runs the workload binary of this scenario (its own copy).
no_workload() { ! pgrep -f "^$wl" >/dev/null; }

note "amber check killed at random instants"
start=$(date +%s%N)
"$AMBER" check "$n" >/dev/null 2>&1 || true
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 20 ))
note "a check takes about $span_ms ms; killing within that"
for round in $(seq 1 8); do
  t=$(init_and_children "$n")
  before=$(snapshot $t)
  delay=$((RANDOM % span_ms))
  "$AMBER" check "$n" >/dev/null 2>&1 &
  checker=$!
  sleep "$(printf '0.%03d' "$delay")"
  kill -9 "$checker" 2>/dev/null || true
  wait "$checker" 2>/dev/null || true
  run_cmd "$AMBER" ps
  assert_eq 0 "$STATUS" "amber ps after the killed check of round $round (stderr: $ERR)"
  journal_empty || fail "check round $round: a journal is left"
  assert_eq running "$(ps_state "$n")" "check round $round (killed after $delay ms): state"
  assert_eq "$before" "$(snapshot $t)" "check round $round (killed after $delay ms): the container"
done

note "amber restore killed at random instants"
"$AMBER" dump "$n" -D "$E2E_TMP/img" >/dev/null
wait_until 10 no_workload
start=$(date +%s%N)
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 20 ))
"$AMBER" kill "$n" >/dev/null
wait_until 10 no_workload
note "a restore takes about $span_ms ms; killing within that"
killed=0 finished=0
for round in $(seq 1 16); do
  delay=$((RANDOM % span_ms))
  "$AMBER" restore -D "$E2E_TMP/img" >/dev/null 2>&1 &
  restorer=$!
  sleep "$(printf '0.%03d' "$delay")"
  kill -9 "$restorer" 2>/dev/null || true
  wait "$restorer" 2>/dev/null || true
  run_cmd "$AMBER" ps
  assert_eq 0 "$STATUS" "amber ps after the killed restore of round $round (stderr: $ERR)"
  journal_empty || fail "restore round $round (killed after $delay ms): a journal is left: $(ls -l "$AMBER_STATE_DIR/.journal/") $ERR; $(ps -eo pid,ppid,stat,args | grep "[a]mber")"
  if [ -d "$AMBER_STATE_DIR/$n" ]; then
    # The restore had finished: the container runs whole.
    finished=$((finished + 1))
    assert_eq running "$(ps_state "$n")" "restore round $round (killed after $delay ms): a finished restore"
    "$AMBER" kill "$n" >/dev/null
  else
    killed=$((killed + 1))
    [ ! -e "$AMBER_CGROUP_ROOT/$n" ] || fail "restore round $round (killed after $delay ms): its cgroup is left"
  fi
  wait_until 10 no_workload || fail "restore round $round (killed after $delay ms): a restored process is left"
done
note "$killed restores killed midway, $finished finished before the kill"
[ "$killed" -ge 4 ] || fail "only $killed of 16 kills landed inside a restore: the test did not test much"

note "the image restores whole after all that"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
wait_until 10 ps_state_is "$n" running
t=$(init_and_children "$n")
kill -USR1 "${t#* }"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "memstate: OK" "workload verdict after the killed restores"
