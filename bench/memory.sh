#!/usr/bin/env bash
# Memory benchmark (issue 6, "Speed"): dump and restore of a container that
# holds --sizes MiB of non-zero anonymous memory, with the image on a tmpfs,
# against a plain `cp` of the image's page data (the same number of bytes)
# within the same tmpfs, measured in the same round. Prints the medians and
# the ratios dump/cp (goal <= 1.0) and restore/cp (goal <= 0.6). A dump
# kills the container at the end and waits until the kernel has freed its
# memory (~0.2 s per GiB in this VM): each round also times a dump with
# --leave-running (no kill), which shows the copy alone. After the last round
# the restored program checks every byte of its memory: a run that restored
# wrong bytes fails instead of printing times.
#
#   bench/memory.sh [--build DIR] [--sizes "1024 4096"] [--reps 5]
#                   [--huge] [--smoke]
#
# --huge also runs every size with the image on a tmpfs mounted
# huge=always (the fast path for users who choose where images go).
# --smoke (the ctest bench.memory_smoke): one small round that only proves
# the benchmark works; exit 77 when not root or without cgroup v2, never a
# failure on time. Binaries: $AMBER and $MEM_WORKLOAD if set, else
# DIR/amber and DIR/bench/memory_workload. Needs root and cgroup v2; uses a
# private AMBER_STATE_DIR; everything it starts and mounts goes on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ARGS=("$@")  # for the re-exec in a mount namespace below
BUILD="$here/../build"
SIZES="1024 4096" REPS=5 HUGE=0 SMOKE=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --huge) HUGE=1 ;;
    --smoke) SMOKE=1; SIZES=64; REPS=1 ;;
    -h|--help) usage ;;
    *) echo "memory.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done

. "$here/common.bash"
[ "$(id -u)" = 0 ] || cannot "needs root (namespaces, cgroups, ptrace, mount)"
bench_private_mounts  # for the image tmpfs
AMBER=${AMBER:-$BUILD/amber}
MEM_WORKLOAD=${MEM_WORKLOAD:-$BUILD/bench/memory_workload}
bench_need_built "$AMBER" "$MEM_WORKLOAD"
bench_cgroup_root
bench_dirs mem
NAME="bench-mem-$$"
MNT="$TMP/images"
mkdir -p "$MNT"

cleanup() { bench_image_cleanup "$NAME"; }
bench_on_exit

cp "$MEM_WORKLOAD" "$BIN/memory_workload"
ms() { awk -v ns="$1" 'BEGIN { printf "%.0f", ns / 1e6 }'; }

echo "host: $(uname -r), $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $0 --sizes \"$SIZES\" --reps $REPS$([ "$HUGE" = 1 ] && echo ' --huge')$([ "$SMOKE" = 1 ] && echo ' --smoke')"

# run_size MIB MOUNT_OPTIONS: rounds of dump -> cp -> restore; prints a line.
run_size() {
  local mib=$1 opts=$2 r t0 t1 t2 t3 big
  local gib=$(( (mib * 3 + 1023) / 1024 + 1 ))
  mount -t tmpfs -o "size=${gib}g,$opts" amber-bench "$MNT"
  "$AMBER" run --name "$NAME" -- "$BIN/memory_workload" "$mib" >/dev/null
  bench_wait_log "$NAME" ready $((30 + mib / 100))
  : >"$TMP/dump" ; : >"$TMP/cp" ; : >"$TMP/restore" ; : >"$TMP/leave"
  for ((r = 0; r < REPS; r++)); do
    t0=$(now)
    "$AMBER" dump "$NAME" -D "$MNT/img" --leave-running >/dev/null
    t1=$(now)
    echo $((t1 - t0)) >>"$TMP/leave"
    rm -rf "$MNT/img"
    t0=$(now)
    "$AMBER" dump "$NAME" -D "$MNT/img" >/dev/null
    t1=$(now)
    big=$(ls -S "$MNT"/img/tasks/*/pages-*.bin | head -1)
    t2=$(now)
    cp "$big" "$MNT/copy.bin"
    t3=$(now)
    echo $((t1 - t0)) >>"$TMP/dump"
    echo $((t3 - t2)) >>"$TMP/cp"
    rm -f "$MNT/copy.bin"
    t0=$(now)
    "$AMBER" restore -D "$MNT/img" >/dev/null
    t1=$(now)
    echo $((t1 - t0)) >>"$TMP/restore"
    rm -rf "$MNT/img"
  done
  local init
  init=$("$AMBER" ps | awk -v n="$NAME" '$1 == n { print $2 }')
  kill -USR1 "$init"
  bench_wait_log "$NAME" "memory: " $((30 + mib / 100))
  if ! "$AMBER" logs "$NAME" | grep -q "memory: OK"; then
    echo "memory.sh: the restored memory is wrong:" >&2
    "$AMBER" logs "$NAME" | grep "memory:" >&2
    exit 1
  fi
  "$AMBER" kill "$NAME" >/dev/null
  umount "$MNT"
  local d c s l
  d=$(median <"$TMP/dump"); c=$(median <"$TMP/cp"); s=$(median <"$TMP/restore"); l=$(median <"$TMP/leave")
  awk -v mib="$mib" -v opts="$opts" -v d="$d" -v c="$c" -v s="$s" -v l="$l" -v reps="$REPS" 'BEGIN {
    printf "%5d MiB  tmpfs %-11s  cp %5.0f ms  dump %5.0f ms (%.2f)  dump --leave-running %5.0f ms (%.2f)  restore %5.0f ms (%.2f)  [medians of %d; ratios to cp; goals: dump <= 1.0, restore <= 0.6]\n",
      mib, opts, c / 1e6, d / 1e6, d / c, l / 1e6, l / c, s / 1e6, s / c, reps }'
}

for mib in $SIZES; do
  run_size "$mib" "huge=never"
  [ "$HUGE" = 1 ] && run_size "$mib" "huge=always"
done
echo "restored memory checked byte for byte after each size: OK"
