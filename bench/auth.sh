#!/usr/bin/env bash
# Authentication benchmark (issue 12, "Authenticated images"): what the tags
# cost. Dump (--leave-running: the copy, not the kill) and restore of a
# container holding --sizes MiB of non-zero anonymous memory, image on a
# tmpfs, authenticated (every page chunk GMAC-tagged at dump and verified at
# restore) against the same with AMBER_INSECURE_NO_AUTH=1 (the baseline:
# XXH3 per chunk as before images were authenticated; a test and benchmark
# switch, never for users), in the same round and in alternating order.
# Prints the medians and the ratios authenticated/baseline (goal <= 1.1).
# After the last round each restored program checks every byte of its
# memory: a run that restored wrong bytes fails instead of printing times.
#
#   bench/auth.sh [--build DIR] [--sizes "1024"] [--reps 7] [--smoke]
#
# --smoke (the ctest bench.auth_smoke): one small round that only proves the
# benchmark works; exit 77 when not root or without cgroup v2, never a
# failure on time. Binaries: $AMBER and $MEM_WORKLOAD if set, else
# DIR/amber and DIR/bench/memory_workload. Needs root and cgroup v2; uses a
# private AMBER_STATE_DIR and key (AMBER_KEY_FILE); everything it starts and
# mounts goes on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ARGS=("$@")  # for the re-exec in a mount namespace below
BUILD="$here/../build"
SIZES="1024" REPS=7 SMOKE=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --smoke) SMOKE=1; SIZES=64; REPS=1 ;;
    -h|--help) usage ;;
    *) echo "auth.sh: unknown argument $1" >&2; usage ;;
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
bench_dirs auth
export AMBER_KEY_FILE="$TMP/key/image.key"  # made on first use; not the host's
NAME="bench-auth-$$"
MNT="$TMP/images"
mkdir -p "$MNT"

cleanup() { bench_image_cleanup "$NAME" "$NAME-a" "$NAME-b"; }
bench_on_exit

cp "$MEM_WORKLOAD" "$BIN/memory_workload"
# timed FILE CMD...: appends CMD's wall time to FILE and its CPU time
# (user + system, amber's copy threads included) to FILE.cpu, in ms. On a
# machine others load, the CPU time varies less than the wall time.
timed() {
  local f=$1 t
  shift
  t=$( { TIMEFORMAT='%3R %3U %3S'; time "$@" >/dev/null 2>"$TMP/err"; } 2>&1 ) || {
    cat "$TMP/err" >&2
    exit 1
  }
  echo "$t" | awk '{ printf "%.0f\n", $1 * 1000 }' >>"$f"
  echo "$t" | awk '{ printf "%.0f\n", ($2 + $3) * 1000 }' >>"$f.cpu"
}
insecure() { AMBER_INSECURE_NO_AUTH=1 "$@"; }
# check_memory NAME: the restored program compares every byte, then goes.
check_memory() {
  kill -USR1 "$("$AMBER" ps | awk -v n="$1" '$1 == n { print $2 }')"
  bench_wait_log "$1" "memory: " $((30 + MIB / 100))
  if ! "$AMBER" logs "$1" | grep -q "memory: OK"; then
    echo "auth.sh: the memory restored into $1 is wrong:" >&2
    "$AMBER" logs "$1" | grep "memory:" >&2
    exit 1
  fi
}

echo "host: $(uname -r), $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $0 --sizes \"$SIZES\" --reps $REPS$([ "$SMOKE" = 1 ] && echo ' --smoke')"

# run_size MIB: rounds of {dump, dump insecure} then {restore, restore
# insecure}, each pair in alternating order; prints a line.
run_size() {
  MIB=$1
  local r gib=$(( (MIB * 4 + 1023) / 1024 + 1 ))
  mount -t tmpfs -o "size=${gib}g,huge=never" amber-bench "$MNT"
  "$AMBER" run --name "$NAME" -- "$BIN/memory_workload" "$MIB" >/dev/null
  bench_wait_log "$NAME" ready $((30 + MIB / 100))
  local f
  for f in dump dump0 restore restore0; do : >"$TMP/$f"; : >"$TMP/$f.cpu"; done
  for ((r = 0; r < REPS; r++)); do
    if ((r % 2 == 0)); then
      timed "$TMP/dump" "$AMBER" dump "$NAME" -D "$MNT/a" --leave-running
      timed "$TMP/dump0" insecure "$AMBER" dump "$NAME" -D "$MNT/b" --leave-running
      timed "$TMP/restore" "$AMBER" restore -D "$MNT/a" --name "$NAME-a"
      timed "$TMP/restore0" insecure "$AMBER" restore -D "$MNT/b" --name "$NAME-b"
    else
      timed "$TMP/dump0" insecure "$AMBER" dump "$NAME" -D "$MNT/b" --leave-running
      timed "$TMP/dump" "$AMBER" dump "$NAME" -D "$MNT/a" --leave-running
      timed "$TMP/restore0" insecure "$AMBER" restore -D "$MNT/b" --name "$NAME-b"
      timed "$TMP/restore" "$AMBER" restore -D "$MNT/a" --name "$NAME-a"
    fi
    if ((r == REPS - 1)); then
      check_memory "$NAME-a"
      check_memory "$NAME-b"
    fi
    "$AMBER" kill "$NAME-a" >/dev/null
    "$AMBER" kill "$NAME-b" >/dev/null
    rm -rf "$MNT/a" "$MNT/b"
  done
  "$AMBER" kill "$NAME" >/dev/null
  umount "$MNT"
  for f in dump dump0 restore restore0; do
    printf '  %-9s wall ms: %-40s cpu ms: %s\n' "$f" "$(tr '\n' ' ' <"$TMP/$f")" "$(tr '\n' ' ' <"$TMP/$f.cpu")"
  done
  local what m a b
  for what in dump restore; do
    for m in "" .cpu; do
      a=$(median <"$TMP/$what$m"); b=$(median <"$TMP/${what}0$m")
      awk -v mib="$MIB" -v w="$what" -v m="${m:-.wall}" -v a="$a" -v b="$b" -v reps="$REPS" 'BEGIN {
        printf "%5d MiB  %-7s %-4s authenticated %5.0f ms, baseline %5.0f ms: %.3f  [medians of %d; goal <= 1.1]\n",
          mib, w, substr(m, 2), a, b, a / b, reps }'
      echo "RESULT size_mib=$MIB what=$what${m:-.wall} auth_ms=$a base_ms=$b" >>"$TMP/results"
    done
  done
}

for mib in $SIZES; do run_size "$mib"; done
cat "$TMP/results"
echo "restored memory checked byte for byte (authenticated and baseline): OK"
