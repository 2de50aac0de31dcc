#!/usr/bin/env bash
# Copy-on-write benchmark (issue 11): a parent that fills --mib MiB and forks
# 4 children sharing it (tests/e2e/workloads/cow.c), dumped and restored
# with the sharing kept (format 3: children list the parent's pages, the
# fork phase builds the shared areas) and without (AMBER_NO_COW_SHARING=1:
# every task stores and gets its own copy, as before), both in the same
# round, images on a tmpfs. Prints the medians and the ratios kept/copied
# of the image's page data, the restore time and the restored container's
# memory (sum of Pss). The restored program checks every page after the
# last round: wrong pages fail the run instead of printing times.
#
#   bench/cow.sh [--build DIR] [--mib 256] [--reps 5] [--smoke]
#
# --smoke: one small round (exit 77 when not root or without cgroup v2).
# Binaries: $AMBER and $COW_WORKLOAD if set, else DIR/amber and
# DIR/workloads/cow.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ARGS=("$@")
BUILD="$here/../build"
MIB=256 REPS=5 SMOKE=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift ;;
    --mib) MIB=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --smoke) SMOKE=1; MIB=64; REPS=1 ;;
    -h|--help) usage ;;
    *) echo "cow.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done

. "$here/common.bash"
[ "$(id -u)" = 0 ] || cannot "needs root (namespaces, cgroups, ptrace, mount)"
bench_private_mounts
AMBER=${AMBER:-$BUILD/amber}
COW_WORKLOAD=${COW_WORKLOAD:-$BUILD/workloads/cow}
bench_need_built "$AMBER" "$COW_WORKLOAD"
bench_cgroup_root
bench_dirs cow
NAME="bench-cow-$$"
MNT="$TMP/images"
mkdir -p "$MNT"

cleanup() { bench_image_cleanup "$NAME"; }
bench_on_exit
cp "$COW_WORKLOAD" "$BIN/cow"
mount -t tmpfs -o "size=$(( MIB * 7 + 256 ))m" amber-bench "$MNT"

echo "host: $(uname -r), $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $0 --mib $MIB --reps $REPS$([ "$SMOKE" = 1 ] && echo ' --smoke')"

pages_bytes() { cat "$1"/tasks/*/pages-*.bin | wc -c; }
pss_kb() {  # the container's processes' Pss, summed
  local p s=0
  for p in $(cat "$AMBER_CGROUP_ROOT/$NAME/cgroup.procs"); do
    s=$(( s + $(awk '$1 == "Pss:" { print $2 }' /proc/$p/smaps_rollup) ))
  done
  echo "$s"
}
restore_timed() {  # DIR OUT_TIME OUT_PSS [env...]
  local dir=$1 t=$2 m=$3 t0 t1
  shift 3
  t0=$(now)
  env "$@" "$AMBER" restore -D "$dir" >/dev/null
  t1=$(now)
  echo $((t1 - t0)) >>"$t"
  pss_kb >>"$m"
}
: >"$TMP/size.kept"; : >"$TMP/size.copied"; : >"$TMP/rt.kept"; : >"$TMP/rt.copied"
: >"$TMP/pss.kept"; : >"$TMP/pss.copied"
for ((r = 0; r < REPS; r++)); do
  "$AMBER" run --name "$NAME" -- "$BIN/cow" "$MIB" 4 >/dev/null
  bench_wait_log "$NAME" "cow: READY" $((30 + MIB / 50))
  AMBER_NO_COW_SHARING=1 "$AMBER" dump "$NAME" -D "$MNT/copied" --leave-running >/dev/null 2>&1
  "$AMBER" dump "$NAME" -D "$MNT/kept" >/dev/null
  pages_bytes "$MNT/copied" >>"$TMP/size.copied"
  pages_bytes "$MNT/kept" >>"$TMP/size.kept"
  restore_timed "$MNT/copied" "$TMP/rt.copied" "$TMP/pss.copied" AMBER_NO_COW_SHARING=1
  "$AMBER" kill "$NAME" >/dev/null
  restore_timed "$MNT/kept" "$TMP/rt.kept" "$TMP/pss.kept"
  if [ $((r + 1)) -lt "$REPS" ]; then "$AMBER" kill "$NAME" >/dev/null; fi
  rm -rf "$MNT/copied" "$MNT/kept"
done
init=$("$AMBER" ps | awk -v n="$NAME" '$1 == n { print $2 }')
kill -USR1 "$init"
bench_wait_log "$NAME" "cow: OK\|cow: FAIL" 60
if ! "$AMBER" logs "$NAME" | grep -q "cow: OK"; then
  echo "cow.sh: the restored memory is wrong:" >&2
  "$AMBER" logs "$NAME" | grep "cow:" >&2
  exit 1
fi
"$AMBER" kill "$NAME" >/dev/null
sk=$(median <"$TMP/size.kept"); sc=$(median <"$TMP/size.copied")
tk=$(median <"$TMP/rt.kept"); tc=$(median <"$TMP/rt.copied")
pk=$(median <"$TMP/pss.kept"); pc=$(median <"$TMP/pss.copied")
awk -v mib="$MIB" -v sk="$sk" -v sc="$sc" -v tk="$tk" -v tc="$tc" -v pk="$pk" -v pc="$pc" -v reps="$REPS" 'BEGIN {
  printf "%d MiB parent + 4 children: page data %.1f MiB kept vs %.1f MiB copied (%.2f); restore %.0f ms vs %.0f ms (%.2f); restored Pss %.1f MiB vs %.1f MiB (%.2f)  [medians of %d; ratios kept/copied]\n",
    mib, sk / 1048576, sc / 1048576, sk / sc, tk / 1e6, tc / 1e6, tk / tc, pk / 1024, pc / 1024, pk / pc, reps }'
echo "restored memory checked page by page after the last round: OK"
