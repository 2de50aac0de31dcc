# Memory shared copy-on-write between a parent and its child (after fork).
# A dump must not unshare it in the live tasks (process_vm_readv's
# read-only pin would: the dump reads such pages through /proc/PID/mem),
# and since a restore does not keep the sharing yet, the dump says so —
# never silently.
. "$E2E_LIB"

n=$(e2e_name cow)
"$AMBER" run --name "$n" -- python3 -c '
import os, sys, time
b = bytearray(32 << 20)
for i in range(0, len(b), 4096): b[i] = 1
if os.fork() == 0:
    time.sleep(1000)
print("cow: READY", flush=True)
time.sleep(1000)' >/dev/null
wait_until 10 grep -q "cow: READY" "$AMBER_STATE_DIR/$n/log"
sleep 0.2
shared() {  # Shared_Dirty (kB) of every process of the container
  local p
  for p in $(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs"); do
    awk '/^Shared_Dirty/ { s += $2 } END { print s + 0 }' /proc/$p/smaps
  done | sort -n | head -1
}
before=$(shared)
[ "$before" -gt 30000 ] || fail "the workload shares only $before kB before the dump"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img" --leave-running
assert_eq 0 "$STATUS" "dump --leave-running (stderr: $ERR)"
assert_contains "$ERR" "shared copy-on-write" "the dump says the sharing is not kept"
after=$(shared)
[ "$after" -gt 30000 ] || fail "the dump unshared the live tasks' memory: $before kB shared before, $after kB after"
"$AMBER" kill "$n"
note "the image restores (each task with its own copy)"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
assert_eq running "$(ps_state "$n")" "restored container"
