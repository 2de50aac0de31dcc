# Shared helpers for the end-to-end scenarios. A scenario starts with
#   . "$E2E_LIB"
# and gets: a temporary AMBER_STATE_DIR of its own, AMBER_CGROUP_ROOT: the
# test run's cgroup root (AMBER_TEST_CGROUP_ROOT, made by scripts/test.sh)
# or, for a scenario run alone, a root of its own that it removes at the end
# (<cgroup v2>/amber-test/run-PID-START, scripts/test-cgroups.bash; a killed
# scenario's is removed by scripts/clean-test-cgroups.sh), unique container
# names (e2e_name), a trap that kills every container the scenario started,
# and small assertions. Exit 77 (skip) with the reason when
# not root or without cgroup v2.
set -euo pipefail
# With pipefail, never `echo "$x" | grep -q`: grep stops at the first match,
# and the writer of the rest (bash writes echo's newline separately) dies of
# SIGPIPE, failing the check at random. Use `grep -q PATTERN <<<"$x"`.
[ -n "${E2E_TRACE:-}" ] && set -x

e2e_skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*"; }

[ "$(id -u)" = 0 ] || e2e_skip "needs root (namespaces, cgroups, mounts)"
# A scenario that mounts on the host (an overlay rootfs, `ip netns add`) sets
# E2E_PRIVATE_MOUNTS=1 before sourcing this: it runs, amber included, in a
# private copy of the host's mount namespace. Its mounts in the host's would
# be copied into the containers other scenarios start meanwhile (a container
# without a rootfs sees the host's tree), whose dumps then find a mount the
# host no longer has.
if [ -n "${E2E_PRIVATE_MOUNTS:-}" ] && [ -z "${E2E_IN_PRIVATE_MOUNTS:-}" ]; then
  export E2E_IN_PRIVATE_MOUNTS=1
  exec unshare -m --propagation private bash "$0" "$@"
fi
: "${AMBER:?AMBER must be the path of the amber binary}"
[ -x "$AMBER" ] || fail "AMBER=$AMBER is not executable"

. "$(dirname "$E2E_LIB")/../../scripts/test-cgroups.bash"
E2E_V2=$(tcg_v2) || e2e_skip "no cgroup v2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup"
# The root this scenario made itself, removed by e2e_cleanup ("" under a run's).
E2E_OWN_CGROUP_ROOT=""
if [ -n "${AMBER_TEST_CGROUP_ROOT:-}" ]; then
  [ -d "$AMBER_TEST_CGROUP_ROOT" ] || fail "AMBER_TEST_CGROUP_ROOT=$AMBER_TEST_CGROUP_ROOT does not exist"
  export AMBER_CGROUP_ROOT="$AMBER_TEST_CGROUP_ROOT"
else
  E2E_OWN_CGROUP_ROOT=$(tcg_make_run_root "$E2E_V2" $$) || fail "cannot make a cgroup root under $E2E_V2/amber-test"
  export AMBER_CGROUP_ROOT="$E2E_OWN_CGROUP_ROOT"
fi
E2E_TMP=$(mktemp -d /tmp/amber-e2e.XXXXXX)
export AMBER_STATE_DIR="$E2E_TMP/state"
# Containers get a tmpfs /tmp of their own: programs they run must live
# elsewhere (the build tree itself may be under /tmp).
E2E_BIN=$(mktemp -d /var/tmp/amber-e2e-bin.XXXXXX)
# Every container name of this scenario starts with this (unique per run).
E2E_PREFIX="$(basename "$0" .sh | tr -c 'A-Za-z0-9_.\n-' _)-$$-"

# e2e_workload NAME: the path of workload NAME, copied where a container sees it.
e2e_workload() {
  [ -x "$WORKLOADS/$1" ] || fail "workload $WORKLOADS/$1 not built"
  cp "$WORKLOADS/$1" "$E2E_BIN/$1"
  echo "$E2E_BIN/$1"
}

# e2e_name SUFFIX: a container name unique to this scenario run.
e2e_name() { echo "${E2E_PREFIX}$1"; }

# e2e_track PID...: outside processes the scenario started; killed (with
# their children) on exit, pass or fail.
E2E_PIDS=""
e2e_track() { E2E_PIDS="$E2E_PIDS $*"; }

e2e_cleanup() {
  local rc=$?
  set +e
  local p
  for p in $E2E_PIDS; do
    pkill -9 -P "$p" 2>/dev/null
    kill -9 "$p" 2>/dev/null
  done
  if [ -d "$AMBER_STATE_DIR" ]; then
    for d in "$AMBER_STATE_DIR"/*/; do
      [ -d "$d" ] && "$AMBER" kill "$(basename "$d")" >/dev/null 2>&1
    done
  fi
  # Whatever amber could not clean up: kill and remove our cgroups by hand.
  for cg in "$AMBER_CGROUP_ROOT/$E2E_PREFIX"*/; do
    [ -d "$cg" ] || continue
    echo 0 >"$cg/cgroup.freeze" 2>/dev/null
    echo 1 >"$cg/cgroup.kill" 2>/dev/null
    for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
  done
  if [ -n "$E2E_OWN_CGROUP_ROOT" ] && ! tcg_remove_tree "$E2E_OWN_CGROUP_ROOT"; then
    echo "cgroup root left: $E2E_OWN_CGROUP_ROOT" >&2
    [ "$rc" != 0 ] || rc=1
  fi
  rm -rf "$E2E_TMP" "$E2E_BIN"
  if [ "$rc" = 0 ]; then echo "PASS: $(basename "$0" .sh)"; fi
  exit "$rc"
}
trap e2e_cleanup EXIT

# run_cmd CMD...: runs CMD without stopping the scenario; sets STATUS, OUT, ERR.
run_cmd() {
  set +e
  "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
  STATUS=$?
  set -e
  OUT=$(cat "$E2E_TMP/out")
  ERR=$(cat "$E2E_TMP/err")
}

assert_eq() {  # EXPECTED ACTUAL WHAT
  [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}
assert_ne() {  # UNEXPECTED ACTUAL WHAT
  [ "$1" != "$2" ] || fail "$3: got '$2', which it must not be"
}
assert_contains() {  # HAYSTACK NEEDLE WHAT
  case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in: $1" ;; esac
}
assert_not_contains() {  # HAYSTACK NEEDLE WHAT
  case "$1" in *"$2"*) fail "$3: '$2' found in: $1" ;; *) ;; esac
}
# assert_fails STATUS MESSAGE-PART CMD...: CMD exits STATUS with a one-line
# error on stderr that contains MESSAGE-PART.
assert_fails() {
  local want=$1 msg=$2
  shift 2
  run_cmd "$@"
  [ "$STATUS" = "$want" ] || fail "'$*': expected exit $want, got $STATUS (stderr: $ERR)"
  [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] && [ -n "$ERR" ] || fail "'$*': expected one line on stderr, got: $ERR"
  assert_contains "$ERR" "$msg" "'$*' error message"
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds. A condition
# with $(...) in it must be deferred, or it is expanded once: wait_until 5 eval 'test ...'.
wait_until() {
  local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $(($(date +%s%N) / 1000000)) -lt "$deadline" ] || fail "timed out waiting for: $*"
    sleep 0.1
  done
}

# ps_field NAME COLUMN: a column of `amber ps` for NAME, cut at the header's
# column positions (values may contain spaces: "stopped (exit 3)").
ps_field() {
  "$AMBER" ps | awk -v name="$1" -v col="$2" '
    NR == 1 { for (i = 1; i <= NF; i++) start[$i] = index($0, $i); next }
    $1 == name {
      s = start[col]; e = 0
      if (col == "NAME") e = start["PID"]; else if (col == "PID") e = start["STATE"];
      else if (col == "STATE") e = start["COMMAND"]
      v = e ? substr($0, s, e - s) : substr($0, s)
      sub(/ +$/, "", v); print v; found = 1
    }
    END { if (!found) exit 1 }'
}
init_pid() { ps_field "$1" PID; }
ps_state() { ps_field "$1" STATE; }
ps_state_is() { [ "$(ps_state "$1")" = "$2" ]; }

# proc_alive PID: the process exists and is not a zombie (a zombie has
# exited; here the sandbox's pid 1 reaps orphans a moment later).
proc_alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# live_shims NAME: pids of running amber-shim processes started for NAME
# (their command line is amber's own: "... run --name NAME ...").
live_shims() {
  local c p
  for c in $(grep -lsx amber-shim /proc/[0-9]*/comm); do
    p=${c%/comm}
    if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "$1"; then echo "${p#/proc/}"; fi
  done
  return 0
}

# assert_nothing_left NAME [PID...]: no state directory, no cgroup, no shim,
# and none of the PIDs still running.
assert_nothing_left() {
  local name=$1 p
  shift
  [ ! -e "$AMBER_STATE_DIR/$name" ] || fail "$name: state directory left: $(ls -A "$AMBER_STATE_DIR/$name")"
  [ ! -e "$AMBER_CGROUP_ROOT/$name" ] || fail "$name: cgroup left: $AMBER_CGROUP_ROOT/$name"
  [ -z "$(live_shims "$name")" ] || fail "$name: shim still running: $(live_shims "$name")"
  for p in "$@"; do
    if proc_alive "$p"; then fail "$name: process $p still running ($(cat /proc/$p/comm))"; fi
  done
  if "$AMBER" ps | awk 'NR > 1 { print $1 }' | grep -qxF -- "$name"; then fail "$name: still in amber ps"; fi
}

# make_busybox_rootfs DIR: a minimal root filesystem with busybox-static.
# The applet links are made inside a chroot so they point at /bin/busybox
# of the rootfs, not at the host path of DIR.
make_busybox_rootfs() {
  local bb
  bb=$(command -v busybox || true)
  [ -n "$bb" ] || e2e_skip "busybox (busybox-static) is not installed"
  case "$(ldd "$bb" 2>&1 || true)" in
    *"not a dynamic"*) ;;
    *) e2e_skip "$bb is not statically linked (install busybox-static)" ;;
  esac
  # proc, dev and tmp: the mount points amber requires (it creates nothing in a rootfs).
  mkdir -p "$1/bin" "$1/proc" "$1/dev" "$1/tmp"
  cp "$bb" "$1/bin/busybox"
  chroot "$1" /bin/busybox --install -s /bin
}

# dump_fails_at POINT NAME: `amber dump NAME` with AMBER_FAULT=POINT fails
# there (exit 1), leaves no image (temporary or not), and NAME runs on.
dump_fails_at() {
  local p=$1 name=$2
  run_cmd env AMBER_FAULT="$p" "$AMBER" dump "$name" -D "$E2E_TMP/img-$p"
  assert_eq 1 "$STATUS" "dump with fault $p: exit status (stderr: $ERR)"
  assert_contains "$ERR" "fault injected at $p" "dump with fault $p"
  [ ! -e "$E2E_TMP/img-$p" ] || fail "dump with fault $p left an image"
  ls -d "$E2E_TMP"/img-$p.tmp* >/dev/null 2>&1 && fail "dump with fault $p left a temporary image"
  assert_eq running "$(ps_state "$name")" "state after fault $p"
}

# init_and_children NAME: the container's init and its children (host pids).
init_and_children() { local p; p=$(init_pid "$1"); echo "$p $(cat /proc/$p/task/$p/children | xargs)"; }

# journal_empty: no crash journal is left (recover/: every amber command
# sweeps those of dead ambers first).
journal_empty() { [ -z "$(ls "$AMBER_STATE_DIR/.journal/" 2>/dev/null | grep '\.pb$')" ]; }

# run_wait4_pair NAME: container NAME runs memstate's wait4 mode (the init
# waits for a child sleeping in pause()); sets `pid` and `child`, host pids.
run_wait4_pair() {
  "$AMBER" run --name "$1" -- "$(e2e_workload memstate)" wait4 /tmp/memstate.data >/dev/null
  wait_until 10 grep -q "memstate: READY" "$AMBER_STATE_DIR/$1/log"
  pid=$(init_pid "$1")
  child=$(cat /proc/$pid/task/$pid/children | xargs)
  [ -n "$child" ] || fail "the workload has no child"
  sleep 0.3
}

# task_snapshot NAME PID...: what a failed or killed dump or check must leave
# exactly as it was: each task's maps, fds with their positions and flags,
# signal masks and pending sets, tracer and state, and the container's
# cgroup.freeze.
task_snapshot() {
  local name=$1 p fd
  shift
  for p in "$@"; do
    cat /proc/$p/maps
    for fd in /proc/$p/fd/*; do echo "$fd $(readlink "$fd") $(grep -E '^(pos|flags)' /proc/$p/fdinfo/${fd##*/} | xargs)"; done
    grep -E '^(SigBlk|SigCgt|SigIgn|SigPnd|ShdPnd|TracerPid|State)' /proc/$p/status
  done
  cat "$AMBER_CGROUP_ROOT/$name/cgroup.freeze"
}

# --- seal check (amber check) -------------------------------------------

# assert_held_nothing NAME: the container runs on after a check or a refused
# dump: state "running", its cgroup not frozen, no tracer on any task.
assert_held_nothing() {
  local name=$1 cg t
  assert_eq running "$(ps_state "$name")" "$name: state"
  cg="$AMBER_CGROUP_ROOT/$name"
  assert_eq "frozen 0" "$(grep '^frozen' "$cg/cgroup.events")" "$name: cgroup.events"
  assert_eq 0 "$(cat "$cg/cgroup.freeze")" "$name: cgroup.freeze"
  for t in $(cat "$cg/cgroup.threads"); do
    assert_eq 0 "$(awk '/^TracerPid:/ { print $2 }' /proc/$t/status 2>/dev/null || echo 0)" "$name: TracerPid of $t"
  done
}

# assert_leak NAME CLASS-NAME OUTSIDE-PID [CHECK-ARGS...]: `amber check NAME`
# exits 3 and reports a leak of that class held by OUTSIDE-PID, in the text
# and the JSON report; the container runs on, untouched. Sets OUT to the text.
assert_leak() {
  local name=$1 cls=$2 opid=$3 text
  shift 3
  run_cmd "$AMBER" check "$name" "$@"
  assert_eq 3 "$STATUS" "amber check $name (expected leak class $cls; stderr: $ERR)"
  text=$OUT
  assert_contains "$text" "($cls)" "check report"
  assert_contains "$text" "outside: pid $opid (" "check report names outside pid $opid"
  run_cmd "$AMBER" check "$name" --json "$@"
  assert_eq 3 "$STATUS" "amber check --json $name"
  printf '%s' "$OUT" | jq -e --arg cls "$cls" --argjson pid "$opid" \
    '(.sealed | not) and any(.leaks[]; .class_name == $cls and (.accepted | not) and any(.outside[]; .pid == $pid))' \
    >/dev/null || fail "JSON report lacks a $cls leak held by $opid: $OUT"
  assert_held_nothing "$name"
  OUT=$text
}

# assert_sealed NAME [CHECK-ARGS...]: `amber check NAME` finds it sealed:
# exit 0, or 4 when it holds objects amber cannot dump yet (listed after the
# seal verdict: check_blockers.sh).
assert_sealed() {
  local name=$1
  shift
  run_cmd "$AMBER" check "$name" "$@"
  assert_sealed_status "amber check $name should be sealed: $OUT $ERR"
  assert_held_nothing "$name"
}

# assert_sealed_status WHAT: the last run_cmd of `amber check` said sealed.
assert_sealed_status() {
  case "$STATUS" in
    0) assert_not_contains "$OUT" "NOT DUMPABLE YET" "$1" ;;
    4) assert_contains "$OUT" "NOT DUMPABLE YET" "$1" ;;
    *) fail "$1 (exit $STATUS)" ;;
  esac
  assert_contains "$OUT" "sealed: nothing the container uses" "$1"
}

# remedy_external: the --external SPEC the first refused leak of the last
# text report (OUT) suggests.
remedy_external() {
  printf '%s\n' "$OUT" | sed -n 's/.*remedy:.*--external \([^ ]*\).*/\1/p' | head -1
}

# container_tree NAME: one line "pid ppid pgid sid state comm" (ids as the
# container sees them) per process of container NAME, zombies included
# (they are in no cgroup listing: found as children of its processes).
container_tree() {
  local cg="$AMBER_CGROUP_ROOT/$1" p all
  all=$(cat "$cg/cgroup.procs")
  for p in $all; do all="$all $(cat /proc/$p/task/*/children 2>/dev/null)"; done
  local -A vpid
  for p in $all; do vpid[$p]=$(awk '/^NSpid:/ { print $NF }' /proc/$p/status 2>/dev/null || true); done
  local status ppid
  for p in $(printf '%s\n' $all | sort -un); do
    [ -n "${vpid[$p]}" ] || continue
    # Read once: a short-lived process (a shell's sleep) may exit meanwhile.
    status=$(cat /proc/$p/status 2>/dev/null) || continue
    [ -n "$status" ] || continue
    ppid=$(printf '%s\n' "$status" | awk '/^PPid:/ { print $2 }')
    printf '%s\n' "$status" | awk -v v="${vpid[$p]}" -v pp="${vpid[${ppid:-0}]:-0}" \
      -v comm="$(cat /proc/$p/comm 2>/dev/null)" '
      /^State:/ { st = $2 } /^NSpgid:/ { g = $NF } /^NSsid:/ { s = $NF }
      END { print v, pp, g, s, st, comm }'
  done | sort -n
}
