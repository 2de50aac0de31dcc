# Seal check, leak class 3 for POSIX message queues: an outside task with
# an fd on a queue of the container's ipc namespace (its own description,
# opened through the container task's /proc/PID/fd link) is a leak reported
# with its pid, and the dump is refused (exit 3) with the container running
# on; an outside queue of the same name in another ipc namespace is not.
. "$E2E_LIB"

wl=$(e2e_workload mqfd)
n=$(e2e_name mq)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "mqfd: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
fd=
for f in /proc/$pid/fd/*; do [ "$(readlink "$f")" = /amber_mqfd ] && fd=$(basename "$f"); done
[ -n "$fd" ] || fail "no mq fd in the container's init"

note "a queue of the same name in another ipc namespace is no leak"
unshare --ipc "$wl" >"$E2E_TMP/own" &
own=$!
e2e_track "$own"
wait_until 5 grep -q READY "$E2E_TMP/own"
assert_sealed "$n"
kill "$own"; wait "$own" 2>/dev/null || true

note "an outside fd on the container's queue (another description) is a leak"
bash -c "exec 9</proc/$pid/fd/$fd; echo ready; exec sleep 1000" >"$E2E_TMP/ready" &
grab=$!
e2e_track "$grab"
wait_until 5 grep -q ready "$E2E_TMP/ready"
assert_leak "$n" shared-file "$grab"
assert_contains "$OUT" "POSIX message queue" "the kind is named"
assert_contains "$OUT" "/amber_mqfd" "the queue is named"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_eq 3 "$STATUS" "dump with the outside holder (stderr: $ERR)"
[ ! -e "$E2E_TMP/img" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
kill "$grab"; wait "$grab" 2>/dev/null || true
assert_sealed "$n"
"$AMBER" kill "$n" >/dev/null
