#!/usr/bin/env bash
# Seal check benchmark (issue 4, "Speed"): `amber check NAME` of a container
# of --tasks processes on a host with --extra more processes, against a
# one-pass /proc walk measured in the same run (bench/seal_check_bench.cpp
# says why that baseline). Prints medians, ratios and PASS/FAIL against the
# goal (300 ms per check, end to end).
#
#   bench/seal_check.sh [--build DIR] [--tasks 100] [--extra 1000] [--reps 15]
#                       [--goal-ms 300] [--smoke]
#
# Binaries: $AMBER, $SEAL_BENCH, $SEAL_WORKLOAD if set, else DIR/amber,
# DIR/bench/seal_check_bench, DIR/bench/seal_check_workload (DIR: --build,
# default "build" next to this directory). Needs root and cgroup v2; uses a
# private AMBER_STATE_DIR and AMBER_CGROUP_ROOT=<v2>/amber-test unless set.
# Everything it starts (the container, the extra processes) is removed on
# exit, on error and on Ctrl-C.
#
# --smoke (the ctest bench.seal_check_smoke): exit 77 instead of failing when
# not root or without cgroup v2, and never fail on time — only on an error
# or a check that does not say "sealed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD="$here/../build"
TASKS=100 EXTRA=1000 REPS=15 GOAL=300 SMOKE=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift ;;
    --tasks) TASKS=$2; shift ;;
    --extra) EXTRA=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --goal-ms) GOAL=$2; shift ;;
    --smoke) SMOKE=1 ;;
    -h|--help) usage ;;
    *) echo "seal_check.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done

. "$here/common.bash"
[ "$(id -u)" = 0 ] || cannot "needs root (namespaces, cgroups, ptrace)"
AMBER=${AMBER:-$BUILD/amber}
SEAL_BENCH=${SEAL_BENCH:-$BUILD/bench/seal_check_bench}
SEAL_WORKLOAD=${SEAL_WORKLOAD:-$BUILD/bench/seal_check_workload}
bench_need_built "$AMBER" "$SEAL_BENCH" "$SEAL_WORKLOAD"
bench_cgroup_root
bench_dirs seal
NAME="bench-seal-$$"
DRIVER=""

cleanup() {
  local rc=$?
  set +e
  trap '' INT TERM HUP
  if [ -n "$DRIVER" ]; then  # it releases a check in progress and kills its load
    kill -TERM "$DRIVER" 2>/dev/null
    wait "$DRIVER" 2>/dev/null
  fi
  bench_kill "$NAME"
  local cg="$AMBER_CGROUP_ROOT/$NAME"
  if [ -d "$cg" ]; then  # whatever amber kill could not remove
    echo 0 >"$cg/cgroup.freeze" 2>/dev/null
    echo 1 >"$cg/cgroup.kill" 2>/dev/null
    for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
  fi
  rm -rf "$TMP" "$BIN"
  exit "$rc"
}
bench_on_exit

cp "$SEAL_WORKLOAD" "$BIN/seal_check_workload"
procs_now=(/proc/[0-9]*)
echo "host: $(uname -r), $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg), ${#procs_now[@]} processes before the benchmark"
echo "command: $0 --tasks $TASKS --extra $EXTRA --reps $REPS --goal-ms $GOAL$([ "$SMOKE" = 1 ] && echo ' --smoke')"
"$AMBER" run --name "$NAME" -- "$BIN/seal_check_workload" "$TASKS" >/dev/null

# Wait until every container process exists.
procs="$AMBER_CGROUP_ROOT/$NAME/cgroup.procs"
for i in $(seq 200); do
  n=$(wc -l <"$procs")
  [ "$n" -ge "$TASKS" ] && break
  [ "$i" = 200 ] && { echo "seal_check.sh: the container has $n of $TASKS processes after 20 s" >&2; exit 1; }
  sleep 0.1
done

args=(--amber "$AMBER" --name "$NAME" --extra "$EXTRA" --reps "$REPS" --goal-ms "$GOAL" --expect-tasks "$TASKS")
[ "$SMOKE" = 1 ] && args+=(--smoke)
# In the background, so a signal to this script runs the trap at once.
"$SEAL_BENCH" "${args[@]}" &
DRIVER=$!
set +e
wait "$DRIVER"
status=$?
set -e
DRIVER=""
exit "$status"
