# Shared by the bench/*.sh scripts (sourced after their option parsing; they
# set SMOKE=0|1 first). Prerequisites, the binaries, and the cgroup v2 root
# their containers go under.

BENCH_NAME=$(basename "$0")

# A missing prerequisite: skipped (exit 77) in a smoke run, an error otherwise.
cannot() {
  if [ "$SMOKE" = 1 ]; then echo "SKIP: $*"; exit 77; fi
  echo "$BENCH_NAME: $*" >&2
  exit 1
}

# bench_need_built BINARY...: each is an executable, or the run stops.
bench_need_built() {
  local b
  for b in "$@"; do
    [ -x "$b" ] || { echo "$BENCH_NAME: $b is not built (cmake --build $BUILD)" >&2; exit 1; }
  done
}

# Exports AMBER_CGROUP_ROOT (<cgroup2>/amber-test unless set), or cannot.
bench_cgroup_root() {
  local d v2=""
  for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ]; then v2=$d; break; fi
  done
  [ -n "$v2" ] || cannot "no cgroup v2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup"
  export AMBER_CGROUP_ROOT=${AMBER_CGROUP_ROOT:-$v2/amber-test}
}
