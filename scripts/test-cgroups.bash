# Sourced by scripts/test.sh, scripts/clean-test-cgroups.sh and
# tests/e2e/lib.sh: the test suite's cgroup roots.
#
# Every test run has a root of its own, <v2>/amber-test/run-PID-START, where
# PID and START (field 22 of /proc/PID/stat, clock ticks since boot) name
# the process that owns it: scripts/test.sh for a whole run, the scenario's
# shell for one run alone. Containers of the run live under it, so that two
# checkouts testing at once never see each other's; a root whose owner is
# gone (no such pid, or a pid reused by a later process) is stale and
# clean-test-cgroups.sh kills and removes it. Nothing is recorded in the
# cgroup tree but the directory name.

# tcg_v2: the cgroup v2 mount (the unified hierarchy of a hybrid host
# first). AMBER_TEST_CGROUP_V2 (test-only: a cgroup directory standing in
# for it) lets tests/e2e/test_cgroup_roots.sh try these functions in a tree
# of its own instead of the shared <v2>/amber-test.
tcg_v2() {
  local d
  if [ -n "${AMBER_TEST_CGROUP_V2:-}" ]; then
    echo "$AMBER_TEST_CGROUP_V2"
    return 0
  fi
  for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# tcg_start_time PID: the process's start time, empty if there is none.
tcg_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  # comm may hold spaces and ')': the fields start after the last ')'.
  stat=${stat##*) }
  # Field 22 is the 20th after comm (state is field 3).
  set -- $stat
  echo "${20}"
}

# tcg_make_run_root V2 PID: creates the run root owned by PID, prints it.
tcg_make_run_root() {
  local start root
  start=$(tcg_start_time "$2")
  [ -n "$start" ] || return 1
  root="$1/amber-test/run-$2-$start"
  mkdir -p "$1/amber-test" && mkdir "$root" && echo "$root"
}

# tcg_owner_alive ROOT: ROOT's name is run-PID-START and that process runs.
tcg_owner_alive() {
  local name=${1##*/} pid start
  [[ $name =~ ^run-([0-9]+)-([0-9]+)$ ]] || return 1
  pid=${BASH_REMATCH[1]}
  start=${BASH_REMATCH[2]}
  [ "$(tcg_start_time "$pid")" = "$start" ]
}

# tcg_remove_tree DIR: kills every process in the cgroups under DIR (DIR
# included) and removes them, deepest first.
tcg_remove_tree() {
  local cg
  [ -d "$1" ] || return 0
  find "$1" -depth -type d | while read -r cg; do
    [ -f "$cg/cgroup.freeze" ] && echo 0 >"$cg/cgroup.freeze" 2>/dev/null
    [ -f "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
    for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
  done
  [ ! -d "$1" ]
}

# tcg_clean_stale V2: removes the run roots under V2/amber-test whose owner
# is gone; prints each. Everything else there (live runs, and entries of
# checkouts that predate run roots) is left alone.
tcg_clean_stale() {
  local root
  for root in "$1"/amber-test/run-*; do
    [ -d "$root" ] || continue
    tcg_owner_alive "$root" && continue
    echo "removing stale test cgroup root $root"
    tcg_remove_tree "$root" || echo "could not remove $root" >&2
  done
  return 0
}
