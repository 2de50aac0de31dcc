# Helpers for scenarios whose workload judges itself (it prints "TAG: READY",
# then on SIGUSR1 checks its state and prints "TAG: OK" and exits 0, or
# "TAG: FAIL ..."), sourced after lib.sh:
#   . "$(dirname "$E2E_LIB")/verdict_helpers.bash"
# Not a scenario itself (only *.sh files are).

# wl_start NAME TAG [ARGS...]: container NAME runs workload TAG with ARGS,
# until it says it is ready.
wl_start() {
  local name=$1 tag=$2
  shift 2
  "$AMBER" run --name "$name" -- "$(e2e_workload "$tag")" "$@" >/dev/null
  wait_until 10 grep -q "$tag: READY" "$AMBER_STATE_DIR/$name/log"
}

# wl_verdict NAME TAG WHAT: SIGUSR1 to the init; the workload must say OK
# and stop with exit 0.
wl_verdict() {
  local name=$1 tag=$2 what=$3
  kill -USR1 "$(init_pid "$name")"
  wait_until 30 eval "! ps_state_is '$name' running"
  assert_contains "$(cat "$AMBER_STATE_DIR/$name/log")" "$tag: OK" "workload verdict $what"
  assert_eq "stopped (exit 0)" "$(ps_state "$name")" "workload exit $what"
}

# wl_dump_restore NAME TAG: a real dump (nothing of the container left),
# a restore, and the workload's verdict.
wl_dump_restore() {
  local name=$1 tag=$2 pid
  pid=$(init_pid "$name")
  "$AMBER" dump "$name" -D "$E2E_TMP/img-$name"
  assert_nothing_left "$name" "$pid"
  "$AMBER" restore -D "$E2E_TMP/img-$name" >/dev/null
  wl_verdict "$name" "$tag" "after the restore"
}

# wl_leave_running NAME TAG: a dump with --leave-running changes nothing
# the workload can see.
wl_leave_running() {
  "$AMBER" dump "$1" -D "$E2E_TMP/img-$1" --leave-running
  wl_verdict "$1" "$2" "after --leave-running"
}

# wl_refused NAME TAG MESSAGE: the dump is refused by name (exit 4, MESSAGE
# in the error), leaves no image, and the container runs on untouched.
wl_refused() {
  local name=$1 tag=$2 msg=$3 rc=0
  "$AMBER" dump "$name" -D "$E2E_TMP/img-$name" 2>"$E2E_TMP/err" || rc=$?
  [ "$rc" = 4 ] || fail "$name: dump exit $rc, want 4 ($(cat "$E2E_TMP/err"))"
  assert_contains "$(cat "$E2E_TMP/err")" "$msg" "$name: the refusal names the cause"
  [ ! -e "$E2E_TMP/img-$name" ] || fail "$name: a refused dump left an image"
  assert_held_nothing "$name"
  wl_verdict "$name" "$tag" "after a refused dump"
}
