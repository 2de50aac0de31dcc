#!/usr/bin/env bash
# Kills and removes the cgroup roots of earlier test runs whose owner is gone
# (<v2 root>/amber-test/run-PID-START, see scripts/test-cgroups.bash). The
# roots of runs still going on (another checkout testing at the same time)
# and user containers under <v2 root>/amber are never touched.
set -u
. "$(dirname "$0")/test-cgroups.bash"
v2=$(tcg_v2) || exit 0
tcg_clean_stale "$v2"
exit 0
