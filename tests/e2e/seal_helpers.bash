# Helpers for the seal check scenarios (seal_*.sh), sourced after lib.sh:
#   . "$(dirname "$E2E_LIB")/seal_helpers.bash"
# Not a scenario itself (only *.sh files are).

# seal_untouched NAME: the container runs as before the check: `amber ps`
# says running, its cgroup is not frozen, and no task is still traced or
# in a ptrace stop.
seal_untouched() {
  local name=$1 p st
  assert_eq running "$(ps_state "$name")" "$name: state after the check"
  grep -qx 'frozen 0' "$AMBER_CGROUP_ROOT/$name/cgroup.events" ||
    fail "$name: cgroup left frozen: $(cat "$AMBER_CGROUP_ROOT/$name/cgroup.events")"
  for p in $(cat "$AMBER_CGROUP_ROOT/$name/cgroup.threads"); do
    st=$(awk '/^State:/ { print $2 } /^TracerPid:/ { print $2 }' /proc/$p/status 2>/dev/null | tr '\n' ' ')
    case "$st" in
      "" ) ;;  # gone meanwhile
      "t "* | *" "[1-9]*) fail "$name: task $p still stopped or traced after the check (State, TracerPid: $st)" ;;
    esac
  done
}

# seal_block TEXT CLASS: the blocks of the text report ("leak N: ..." or
# "external (declared) N: ..." and its indented lines) of leak class CLASS.
seal_block() {
  printf '%s\n' "$1" | awk -v cls="$2" '
    /^(leak|external \(declared\)) [0-9]+: class / { keep = ($0 ~ ": class " cls " \\(") }
    /^[^ ]/ && !/^(leak|external \(declared\)) [0-9]+: class / { keep = 0 }
    keep { print }'
}

# seal_json_external JSON CLASS PID: prints the external SPEC of the leak of
# class CLASS that lists PID among its outside holders; fails if none does
# (or it has no SPEC). jq when there is one: python3 may start slowly.
seal_json_external() {
  if command -v jq >/dev/null; then
    jq -er --argjson c "$2" --argjson p "$3" \
      '[.leaks[] | select(.class == $c and any(.outside[]; .pid == $p))][0].external' <<<"$1"
    return
  fi
  python3 -c '
import json, sys
r = json.load(sys.stdin)
cls, pid = int(sys.argv[1]), int(sys.argv[2])
for l in r["leaks"]:
    if l["class"] == cls and any(h["pid"] == pid for h in l["outside"]) and l["external"]:
        print(l["external"])
        sys.exit(0)
sys.exit(1)' "$2" "$3" <<<"$1"
}

# seal_expect_leak NAME CLASS CLASSNAME OUTPID [EXTRA-EXTERNAL...]:
#  - `amber check NAME` exits 3 and reports class CLASS (CLASSNAME) with
#    OUTPID as an outside holder; the container is left untouched;
#  - `--json` has the same leak with OUTPID and the remedy's SPEC;
#  - `--external SPEC` (plus EXTRA-EXTERNAL specs for other leaks the setup
#    makes on purpose) exits 0 with the leak listed as "external (declared)".
# Sets SEAL_TEXT (the text report) and SEAL_EXTERNAL (the SPEC).
seal_expect_leak() {
  local name=$1 cls=$2 cname=$3 outpid=$4 block e
  shift 4
  seal_expect_leak_text "$name" "$cls" "$cname" "$outpid"
  block=$(seal_block "$SEAL_TEXT" "$cls")

  run_cmd "$AMBER" check --json "$name"
  assert_eq 3 "$STATUS" "check --json $name: exit status ($ERR)"
  SEAL_EXTERNAL=$(seal_json_external "$OUT" "$cls" "$outpid") ||
    fail "check --json $name: no class $cls leak with outside pid $outpid in: $OUT"
  [ -n "$SEAL_EXTERNAL" ] || fail "check --json $name: the class $cls leak has no external SPEC"
  assert_contains "$block" "--external $SEAL_EXTERNAL" "check $name: remedy of the class $cls leak"
  seal_untouched "$name"

  local args=(--external "$SEAL_EXTERNAL")
  for e in "$@"; do args+=(--external "$e"); done
  run_cmd "$AMBER" check "$name" "${args[@]}"
  assert_sealed_status "check $name ${args[*]}: exit status ($OUT $ERR)"
  block=$(seal_block "$OUT" "$cls")
  assert_contains "$block" "external (declared) " "check $name --external $SEAL_EXTERNAL"
  assert_contains "$block" "accepted by --external $SEAL_EXTERNAL" "check $name --external $SEAL_EXTERNAL"
  assert_not_contains "$OUT" "NOT SEALED" "check $name ${args[*]}"
  seal_untouched "$name"
}

# seal_expect_leak_text NAME CLASS CLASSNAME OUTPID: the text part of
# seal_expect_leak alone (one check: for variants of a class whose JSON and
# --external a first case has already shown). Sets SEAL_TEXT.
seal_expect_leak_text() {
  local name=$1 cls=$2 cname=$3 outpid=$4 block
  run_cmd "$AMBER" check "$name"
  [ "$STATUS" = 3 ] || fail "check $name: expected exit 3 (class $cls leak), got $STATUS: $OUT $ERR"
  SEAL_TEXT=$OUT
  assert_contains "$OUT" "NOT SEALED" "check $name"
  block=$(seal_block "$OUT" "$cls")
  [ -n "$block" ] || fail "check $name: no class $cls leak in: $OUT"
  assert_contains "$block" "class $cls ($cname)" "check $name: class $cls block"
  assert_contains "$block" "outside: pid $outpid (" "check $name: class $cls block names outside pid $outpid"
  seal_untouched "$name"
}

# seal_expect_sealed NAME: `amber check NAME` says "sealed" (exit 0, or 4
# with the objects amber cannot dump yet) and leaves the container untouched.
seal_expect_sealed() {
  run_cmd "$AMBER" check "$1"
  assert_sealed_status "check $1: expected sealed, got $STATUS: $OUT $ERR"
  seal_untouched "$1"
}

# seal_ready FILE [SECONDS]: waits until FILE has a "ready" line; prints the
# rest of that line (e.g. an id the workload reports).
seal_ready() {
  wait_until "${2:-5}" grep -q '^ready' "$1"
  sed -n 's/^ready *//p' "$1" | head -1
}

# seal_stop PID...: kills outside helpers started by the scenario and waits
# for them (they are its children).
seal_stop() {
  local p
  for p in "$@"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

# Outside helpers (seal_bg) are killed, and SEAL_ON_EXIT commands run, when
# the scenario ends, before lib.sh's cleanup kills the containers.
SEAL_PIDS=()
SEAL_ON_EXIT=()
seal_cleanup() {
  local c
  set +e
  [ ${#SEAL_PIDS[@]} = 0 ] || seal_stop "${SEAL_PIDS[@]}"
  for c in "${SEAL_ON_EXIT[@]}"; do eval "$c" >/dev/null 2>&1; done
}
trap 'rc=$?; seal_cleanup; (exit $rc); e2e_cleanup' EXIT

# seal_bg CMD...: starts an outside helper in the background; SEAL_PID is
# its pid (CMD is executed directly, so it is the helper itself).
seal_bg() {
  "$@" &
  SEAL_PID=$!
  SEAL_PIDS+=("$SEAL_PID")
}
