# Seal check: an outside task holding a pty of the container's devpts (here
# a new open of the slave through /proc/PID/root) is a leak, whatever the
# description; a dump is then refused and the container runs on. Without it
# the container is sealed.
. "$E2E_LIB"

n=$(e2e_name ptyseal)
"$AMBER" run --name "$n" -- "$(e2e_workload pty)" >/dev/null
wait_until 10 grep -q "pty: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
assert_sealed "$n"

note "the slave opened from outside"
python3 -c "
import os, sys, time
fd = os.open('/proc/$pid/root/dev/pts/0', os.O_RDWR | os.O_NOCTTY)
print('ready', flush=True)
time.sleep(1000)" >"$E2E_TMP/ready" &
grab=$!
e2e_track "$grab"
wait_until 5 grep -q ready "$E2E_TMP/ready"
assert_leak "$n" shared-file "$grab"
assert_contains "$OUT" "pty /dev/pts/0" "the pty is named"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_eq 3 "$STATUS" "dump refused (stderr: $ERR)"
assert_eq running "$(ps_state "$n")" "state after the refused dump"
kill "$grab"; wait "$grab" 2>/dev/null || true
assert_sealed "$n"
