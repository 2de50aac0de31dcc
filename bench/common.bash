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

# bench_private_mounts: the script runs again in a mount namespace of its own
# (ARGS: its arguments). Its image tmpfs, mounted on the host, would be
# copied into every container started meanwhile (tests running beside it),
# and their dump would refuse it as a mount they made themselves once the
# benchmark unmounts it.
bench_private_mounts() {
  [ -n "${AMBER_BENCH_MNTNS:-}" ] && return 0
  export AMBER_BENCH_MNTNS=1
  exec unshare --mount --propagation private bash "$0" "${ARGS[@]}"
}

# bench_dirs TAG: TMP (with a private AMBER_STATE_DIR in it) and BIN, where
# the containers' programs live (a container has a /tmp of its own).
bench_dirs() {
  TMP=$(mktemp -d "/tmp/amber-bench-$1.XXXXXX")
  export AMBER_STATE_DIR="$TMP/state"
  BIN=$(mktemp -d /var/tmp/amber-bench-bin.XXXXXX)
}

# bench_on_exit: the script's own `cleanup` runs on every exit; INT, TERM
# and HUP exit with the shell's codes for them.
bench_on_exit() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

# bench_image_cleanup NAME...: the `cleanup` of a benchmark with an image
# tmpfs at $MNT: kills the containers NAME..., unmounts $MNT, removes TMP and
# BIN, exits with the status the script ended with (call it first thing).
bench_image_cleanup() {
  local rc=$?
  set +e
  trap '' INT TERM HUP
  bench_kill "$@"
  mountpoint -q "$MNT" && umount "$MNT"
  rm -rf "$TMP" "$BIN"
  exit "$rc"
}

# bench_kill NAME...: kills each container that still exists (cleanup).
bench_kill() {
  local n
  for n in "$@"; do
    if [ -d "$AMBER_STATE_DIR/$n" ]; then "$AMBER" kill "$n" >/dev/null 2>&1; fi
  done
  return 0
}

now() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# bench_wait_log NAME TEXT SECONDS: the container's output shows TEXT, or
# the run stops with its output.
bench_wait_log() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    "$AMBER" logs "$1" 2>/dev/null | grep -q "$2" && return 0
    sleep 0.1
  done
  echo "$BENCH_NAME: container $1 did not print '$2' within $3 s" >&2
  "$AMBER" logs "$1" >&2 || true
  exit 1
}
