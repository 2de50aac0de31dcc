# Seal check without false positives: a container running a shell, a
# python3 http.server and a multi-process pipeline is sealed; so is a
# container started by unshare with every namespace, checked with --pid.
# One started without its own net namespace leaks the host's (class 1),
# which --external net accepts.
. "$E2E_LIB"
command -v python3 >/dev/null || e2e_skip "python3 is not installed"

n=$(e2e_name busy)
"$AMBER" run --name "$n" -- sh -c '
  python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 &
  (i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done) | cat | tr 0 o | cat >/tmp/out &
  wait' >/dev/null
pid=$(init_pid "$n")
wait_until 10 sh -c "$AMBER exec $n -- python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:8000/\")'"
wait_until 5 eval 'test "$(wc -l <"$AMBER_CGROUP_ROOT/$n/cgroup.procs")" -ge 6'
assert_sealed "$n"
assert_contains "$OUT" "sealed:" "report"

# start_unshare ARGS...: runs `unshare ARGS` in the background with nothing
# of this shell's open (ctest's log and pipes would be shared descriptions:
# real leaks); sets UPID to its init (the child unshare forks).
start_unshare() {
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec unshare "$@" </dev/null >/dev/null 2>&1
  ) &
  USHARE=$!
  e2e_track "$USHARE"
  wait_until 5 pgrep -P "$USHARE"
  UPID=$(pgrep -P "$USHARE")
}

note "unshare --pid --fork --mount-proc --mount --uts --ipc --net --cgroup, checked with --pid"
start_unshare --pid --fork --mount-proc --mount --uts --ipc --net --cgroup sleep 1000
ushare=$USHARE upid=$UPID
run_cmd "$AMBER" check --pid "$upid"
assert_sealed_status "check --pid of an unshare container ($OUT $ERR)"
assert_eq 0 "$(awk '/^TracerPid:/ { print $2 }' /proc/$upid/status)" "released"
grep -q '^State:.*S (sleeping)' /proc/$upid/status || fail "unshare's sleep is not sleeping after the check"
kill -9 "$upid"; wait "$ushare" 2>/dev/null || true

note "without --net it uses the host's network namespace"
start_unshare --pid --fork --mount-proc --mount --uts --ipc --cgroup sleep 1000
ushare=$USHARE upid=$UPID
run_cmd "$AMBER" check --pid "$upid"
assert_eq 3 "$STATUS" "check --pid of a container in the host's net namespace"
assert_contains "$OUT" "net namespace" "the leak"
run_cmd "$AMBER" check --pid "$upid" --external net
assert_sealed_status "--external net ($OUT)"
kill -9 "$upid"; wait "$ushare" 2>/dev/null || true

note "--pid of a task that is not a namespace's init"
assert_fails 2 "not a container" "$AMBER" check --pid $$
