#!/usr/bin/env bash
# Image fuzzing under the sanitizers (issue 12): runs tests/fuzz's mutation
# harness, built with ASan + UBSan, over the corpus of real dumps for
# --runs inputs (default 1,000,000) and prints inputs, inputs/s and crashes.
# Baseline, measured in the same run: the same checks over the unmutated
# corpus images (what one restore's pre-checks cost in this binary); the
# ratio fuzz/baseline is what mutating and fixing up each input costs on top.
#
#   bench/fuzz.sh [--build DIR] [--runs N] [--jobs J] [--seed S] [--baseline-runs N]
#                 [--start-batch B] [--crash-dir DIR] [--timeout S] [--smoke]
#
# DIR: a build configured with -DAMBER_SANITIZE=ON (default build-asan next
# to this directory, which scripts/test.sh builds). J: parallel batches
# (default: the number of CPUs). S: the seed (default: from the clock,
# printed; a run is repeated exactly by its seed, --jobs and --runs aside
# from the batch order). Crashing inputs are saved in --crash-dir (default
# a fuzz-crashes directory in the current one); replay one with
# `amber_fuzz --replay FILE`, turn it into an image with `--unpack`.
# --start-batch B: a campaign in parts (the harness's batches of 2,000 inputs
# are independent): a second run with the same seed and B = inputs so far /
# 2000 makes the inputs that follow.
# --timeout S: an input that runs longer is a hang (default 20 s; more on a
# machine others load, where a slow input is not a hang).
# Exit 1 if any input crashed, hung or made a sanitizer report.
#
# --smoke: 2,000 inputs, seed 1 (proves the script works; no timing claims).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD="$here/../build-asan"
RUNS=1000000 JOBS=$(nproc) SEED="" BASE_RUNS=2000 START=0 CRASH_DIR="$PWD/fuzz-crashes" TIMEOUT=20 SMOKE=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --jobs) JOBS=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --baseline-runs) BASE_RUNS=$2; shift ;;
    --crash-dir) CRASH_DIR=$2; shift ;;
    --start-batch) START=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    --smoke) SMOKE=1 RUNS=2000 SEED=1 BASE_RUNS=200 ;;
    -h|--help) usage ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done

. "$here/common.bash"
FUZZ=${AMBER_FUZZ:-$BUILD/tests/amber_fuzz}
bench_need_built "$FUZZ"
CORPUS="$here/../tests/fuzz/corpus"
[ -n "$(ls "$CORPUS"/*.amfz 2>/dev/null)" ] || cannot "no corpus in $CORPUS (tests/fuzz/make_corpus.sh)"
[ -n "$SEED" ] || SEED=$(( $(date +%s) % 1000000 ))
# The unit tests' settings: every report fails the run, leaks included.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
sanitized=no
case "$(nm -D "$FUZZ" 2>/dev/null || true)" in *__asan_init*) sanitized="ASan+UBSan" ;; esac

echo "host: $(uname -r), $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binary: $FUZZ (sanitizers: $sanitized)"
echo "corpus: $(ls "$CORPUS"/*.amfz | wc -l) images, $(du -sh "$CORPUS" | cut -f1)"
echo "command: $0 --runs $RUNS --jobs $JOBS --seed $SEED --start-batch $START --timeout $TIMEOUT"

# result FILE KEY: the value of KEY in the harness's RESULT lines.
result() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | tail -1; }

TMP=$(mktemp -d /tmp/amber-bench-fuzz.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

"$FUZZ" --corpus "$CORPUS" --no-mutate --runs "$BASE_RUNS" --jobs 1 --seed "$SEED" \
  --crash-dir "$TMP/base-crashes" >"$TMP/base" 2>&1 || { cat "$TMP/base"; echo "fuzz.sh: the baseline failed" >&2; exit 1; }
base_rate=$(result "$TMP/base" inputs_per_s)
echo "baseline: the unmutated corpus, $BASE_RUNS inputs, 1 job: $base_rate inputs/s"

st=0
"$FUZZ" --corpus "$CORPUS" --runs "$RUNS" --jobs "$JOBS" --seed "$SEED" --start-batch "$START" --crash-dir "$CRASH_DIR" \
  --timeout "$TIMEOUT" 2>&1 |
  tee "$TMP/fuzz" | grep -v '^progress' || true
grep -q '^RESULT inputs=' "$TMP/fuzz" || { echo "fuzz.sh: the harness did not finish" >&2; exit 1; }
inputs=$(result "$TMP/fuzz" inputs) rate=$(result "$TMP/fuzz" inputs_per_s) crashes=$(result "$TMP/fuzz" crashes)
secs=$(result "$TMP/fuzz" seconds)
per_job=$(awk -v r="$rate" -v j="$JOBS" 'BEGIN { printf "%.0f", r / j }')
ratio=$(awk -v a="$per_job" -v b="$base_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
echo
echo "fuzz: $inputs inputs in $secs s, $rate inputs/s ($JOBS jobs, $per_job per job), crashes: $crashes"
echo "ratio: fuzz inputs/s per job / baseline inputs/s = $ratio"
echo "RESULT inputs=$inputs seconds=$secs inputs_per_s=$rate crashes=$crashes baseline_inputs_per_s=$base_rate ratio=$ratio seed=$SEED jobs=$JOBS start_batch=$START"
[ "$crashes" = 0 ] || st=1
exit "$st"
