# The completeness rule and restore verification (kinds/completeness.h).
# Dump: state the table refuses (a VmFlags advice amber does not restore, a
# speculation-control setting unlike amber's own) refuses the dump (exit 4)
# by name, and the container runs on untouched.
# Restore: a restore step broken on purpose (AMBER_BREAK, test-only: the
# step is skipped as a bug would skip it) is caught by the verification
# before any task runs: exit 1 naming the task and the field, nothing left
# behind, the image untouched; with --no-verify the same broken restore
# "succeeds", which is what the verification is there to prevent.
. "$E2E_LIB"

wl=$(e2e_workload procfields)
for mode in random speculation; do
  note "a refused field: $mode"
  n=$(e2e_name "$mode")
  "$AMBER" run --name "$n" -- "$wl" "$mode" >/dev/null
  wait_until 10 grep -q "procfields: \(READY\|UNSUPPORTED\)" "$AMBER_STATE_DIR/$n/log"
  if grep -q UNSUPPORTED "$AMBER_STATE_DIR/$n/log"; then
    note "this CPU has no store-bypass control: $mode not tested"
    "$AMBER" kill "$n"
    continue
  fi
  case $mode in
    random) want="MADV_RANDOM" ;;
    speculation) want="Speculation_Store_Bypass" ;;
  esac
  assert_fails 4 "$want" "$AMBER" dump "$n" -D "$E2E_TMP/img-$mode"
  assert_contains "$ERR" "task 1" "the refusal names the task"
  [ ! -e "$E2E_TMP/img-$mode" ] || fail "a refused dump left an image"
  assert_held_nothing "$n"
  "$AMBER" kill "$n"
done

note "restore verification catches a broken step"
wl=$(e2e_workload sigstate)
n=$(e2e_name v)
img="$E2E_TMP/img"
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "sigstate: READY" "$AMBER_STATE_DIR/$n/log"
"$AMBER" dump "$n" -D "$img"
sum_before=$(cd "$img" && find . -type f -exec sha1sum {} + | sort)
for step in restore.sigactions restore.pending; do
  note "AMBER_BREAK=$step"
  run_cmd env AMBER_BREAK="$step" "$AMBER" restore -D "$img"
  assert_eq 1 "$STATUS" "restore with $step broken: exit status (stderr: $ERR)"
  assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line of error"
  assert_contains "$ERR" "task 1" "the verification names the task"
  assert_contains "$ERR" "after the restore" "the verification names the difference"
  case $step in
    restore.sigactions) assert_contains "$ERR" "signal" "a signal action differs" ;;
    restore.pending) assert_contains "$ERR" "Pnd" "pending signals differ" ;;
  esac
  assert_nothing_left "$n"
  assert_eq "$sum_before" "$(cd "$img" && find . -type f -exec sha1sum {} + | sort)" "image after a failed verification"
done

note "--no-verify lets the broken restore through (the verification is what stopped it)"
run_cmd env AMBER_BREAK=restore.pending "$AMBER" restore -D "$img" --no-verify
assert_eq 0 "$STATUS" "restore --no-verify with a broken step (stderr: $ERR)"
"$AMBER" kill "$n"

note "an intact restore passes the verification and the workload agrees"
"$AMBER" restore -D "$img" >/dev/null
pid2=$(init_pid "$n")
sleep 0.3
kill -USR1 "$pid2"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "sigstate: OK" "workload verdict"
