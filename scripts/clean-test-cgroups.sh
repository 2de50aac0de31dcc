#!/usr/bin/env bash
# Kills and removes the cgroups that earlier test runs left under the test
# cgroup root (tests use AMBER_CGROUP_ROOT=<v2 root>/amber-test; user containers
# under <v2 root>/amber are never touched).
set -u
for v2 in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  [ -f "$v2/cgroup.controllers" ] || [ -f "$v2/cgroup.procs" ] && [ -d "$v2/amber-test" ] || continue
  # deepest first
  find "$v2/amber-test" -mindepth 1 -depth -type d | while read -r cg; do
    [ -f "$cg/cgroup.freeze" ] && echo 0 >"$cg/cgroup.freeze" 2>/dev/null
    [ -f "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
    for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
  done
done
exit 0
