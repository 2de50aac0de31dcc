# The test suite's cgroup roots (scripts/test-cgroups.bash): a scenario run
# alone has a root of its own, removed at its end; two runs at once each
# have theirs, and a run starting meanwhile (clean-test-cgroups.sh) leaves
# their containers alone; the root of a run whose owner died, or whose pid
# now belongs to another process, is killed and removed; what is no run
# root is never touched. Tried in a stand-in for <v2>/amber-test inside this
# scenario's own root (AMBER_TEST_CGROUP_V2), never on the shared one.
. "$E2E_LIB"
repo=$(cd "$(dirname "$E2E_LIB")/../.." && pwd)

note "this scenario's root"
if [ -z "${AMBER_TEST_CGROUP_ROOT:-}" ]; then
  assert_eq "$E2E_V2/amber-test/run-$$-$(tcg_start_time $$)" "$AMBER_CGROUP_ROOT" "a scenario's own root"
fi
tcg_owner_alive "$AMBER_CGROUP_ROOT" || fail "the root $AMBER_CGROUP_ROOT has no live owner"

fake="$AMBER_CGROUP_ROOT/fake-v2"
mkdir -p "$fake/amber-test"
clean() { AMBER_TEST_CGROUP_V2=$fake "$repo/scripts/clean-test-cgroups.sh"; }
# park CGROUP: a process of ours in CGROUP (a container's stand-in) -> PARKED.
park() {
  mkdir -p "$1"
  sleep 1000 >/dev/null 2>&1 &
  PARKED=$!
  disown "$PARKED"  # no "Killed" job report when clean-test-cgroups.sh kills it
  e2e_track "$PARKED"
  echo "$PARKED" >"$1/cgroup.procs"
}

note "stale roots are removed, live ones and other entries are not"
live=$(tcg_make_run_root "$fake" $$)
park "$live/c"; p_live=$PARKED
sleep 1000 >/dev/null 2>&1 &
gone=$!
gone_start=$(tcg_start_time "$gone")
{ kill -9 "$gone" && wait "$gone"; } 2>/dev/null || true
dead="$fake/amber-test/run-$gone-$gone_start"
park "$dead/c"; p_dead=$PARKED
reused="$fake/amber-test/run-$$-1"  # this shell's pid, another process's start time
park "$reused/c"; p_reused=$PARKED
legacy="$fake/amber-test/dump_sleep-123-x"  # a checkout that predates run roots
park "$legacy"; p_legacy=$PARKED
out=$(clean)
assert_contains "$out" "$dead" "clean-test-cgroups output"
assert_contains "$out" "$reused" "clean-test-cgroups output"
[ ! -e "$dead" ] || fail "the root of a dead run is left: $dead"
[ ! -e "$reused" ] || fail "the root of a reused pid is left: $reused"
wait_until 5 eval '! proc_alive '"$p_dead"' && ! proc_alive '"$p_reused"
proc_alive "$p_live" || fail "a live run's process was killed"
proc_alive "$p_legacy" || fail "a process of an entry that is no run root was killed"
[ -d "$live/c" ] && [ -d "$legacy" ] || fail "a live root or an entry that is no run root was removed"
tcg_remove_tree "$live" || fail "cannot remove $live"
tcg_remove_tree "$legacy" || fail "cannot remove $legacy"

note "two runs of a scenario at once, a third run starting meanwhile"
cat >"$E2E_TMP/child.sh" <<'EOF'
. "$E2E_LIB"
n=$(e2e_name c)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
echo "$AMBER_CGROUP_ROOT $E2E_TMP" >"$CHILD_OUT.tmp"
mv "$CHILD_OUT.tmp" "$CHILD_OUT"
wait_until 120 test -e "$CHILD_GO"
assert_eq running "$(ps_state "$n")" "container $n of run $$"
[ -n "$(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs")" ] || fail "the cgroup of $n is empty"
"$AMBER" kill "$n"
EOF
child() {  # NAME: starts a run of child.sh in the background -> CHILD
  env -u AMBER_TEST_CGROUP_ROOT AMBER_TEST_CGROUP_V2="$fake" CHILD_OUT="$E2E_TMP/$1.out" CHILD_GO="$E2E_TMP/go" \
    bash "$E2E_TMP/child.sh" >"$E2E_TMP/$1.log" 2>&1 &
  CHILD=$!
  e2e_track "$CHILD"
}
child a; a=$CHILD
child b; b=$CHILD
wait_until 60 test -e "$E2E_TMP/a.out" -a -e "$E2E_TMP/b.out"
read -r root_a _ <"$E2E_TMP/a.out"
read -r root_b _ <"$E2E_TMP/b.out"
assert_ne "$root_a" "$root_b" "the two runs' roots"
for r in "$root_a" "$root_b"; do
  case "$r" in "$fake/amber-test/run-"*) ;; *) fail "a run's root is not under $fake/amber-test: $r" ;; esac
  tcg_owner_alive "$r" || fail "the root $r has no live owner"
done
out=$(clean)
assert_eq "" "$out" "clean-test-cgroups with two live runs"
touch "$E2E_TMP/go"
wait "$a" || fail "run a failed: $(cat "$E2E_TMP/a.log")"
wait "$b" || fail "run b failed: $(cat "$E2E_TMP/b.log")"
[ ! -e "$root_a" ] && [ ! -e "$root_b" ] || fail "a finished run left its root: $(ls -d "$root_a" "$root_b" 2>/dev/null)"

note "a run killed with its container running: its root is stale"
rm -f "$E2E_TMP/go"
child c; c=$CHILD
wait_until 60 test -e "$E2E_TMP/c.out"
read -r root_c tmp_c <"$E2E_TMP/c.out"
cg_c=$(find "$root_c" -mindepth 1 -maxdepth 1 -type d)
init_c=$(head -1 "$cg_c/cgroup.procs")
[ -n "$init_c" ] || fail "no process in $cg_c"
{ kill -9 "$c" && wait "$c"; } 2>/dev/null || true
proc_alive "$init_c" || fail "the killed run's container is not running"
out=$(clean)
assert_contains "$out" "$root_c" "clean-test-cgroups after a run was killed"
[ ! -e "$root_c" ] || fail "the killed run's root is left: $root_c"
wait_until 5 eval '! proc_alive '"$init_c"
rm -rf "$tmp_c"
tcg_remove_tree "$fake" || fail "cannot remove $fake"
