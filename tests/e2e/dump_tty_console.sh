# The console of a container started with `amber run --tty`: an interactive
# shell (dash, job control on) runs a foreground job (console_job) that
# sets a termios and window size of its own, keeps a /dev/tty fd, and
# blocks reading a line; part of the line is typed through amber attach
# before the dump. While an attach is connected, a dump is refused as a
# leak (the attach holds the console's master) and the container runs on,
# also when the attach connects after the seal check (its re-check).
# After dump -> kill -> restore (amber's own stdin not a terminal), a new
# attach types the rest of the line: the job checks termios, window size,
# process group, foreground group, session and controlling terminal, and
# reads the whole line, the part typed before the dump included; then the
# shell is the same one (a variable set before the dump) and exits 7.
. "$E2E_LIB"
command -v python3 >/dev/null || e2e_skip "no python3"
driver="$(dirname "$E2E_LIB")/tools/attach_driver.py"
wl=$(e2e_workload console_job)

n=$(e2e_name con)
"$AMBER" run --tty --name "$n" -- /bin/sh </dev/null >/dev/null
wait_until 5 test -S "$AMBER_STATE_DIR/$n/attach.sock"
pid=$(init_pid "$n")
printf '%s\n' 'send X=4$((40+2)); echo "v=$X."\r' 'expect v=442.' "send $wl\\r" 'expect console: READY' \
  'send abc' 'sleep 0.5' 'detach' >"$E2E_TMP/s1"
python3 "$driver" "$AMBER" "$n" "$E2E_TMP/s1" || fail "first attach"

# Attached: the attach process holds the console's master. A leak.
printf '%s\n' 'sleep 4' 'detach' >"$E2E_TMP/hold"
python3 "$driver" "$AMBER" "$n" "$E2E_TMP/hold" &
holder=$!
e2e_track "$holder"
sleep 1.5
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img-attached"
assert_eq 3 "$STATUS" "dump while attached (stderr: $ERR)"
assert_contains "$ERR" "console" "the leak names the console"
assert_eq running "$(ps_state "$n")" "state after the refused dump"
wait "$holder" || fail "the attach that held the console"
# An attach that connects after the seal check: the re-check before the
# tasks are killed finds it; the image is removed, the container runs on.
AMBER_PAUSE_AT=dump.finish "$AMBER" dump "$n" -D "$E2E_TMP/img-late" 2>"$E2E_TMP/late.err" >/dev/null &
dumper=$!
e2e_track "$dumper"
wait_until 20 grep -q "paused at dump.finish" "$E2E_TMP/late.err"
python3 "$driver" "$AMBER" "$n" "$E2E_TMP/hold" &
holder=$!
e2e_track "$holder"
status=0
wait "$dumper" || status=$?
assert_eq 3 "$status" "dump with an attach connected during it (stderr: $(cat "$E2E_TMP/late.err"))"
assert_contains "$(cat "$E2E_TMP/late.err")" "console" "the late leak names the console"
[ ! -e "$E2E_TMP/img-late" ] || fail "the refused dump left its image"
assert_eq running "$(ps_state "$n")" "state after the late refusal"
wait "$holder" || fail "the attach during the dump"

"$AMBER" dump "$n" -D "$E2E_TMP/img" >/dev/null
assert_nothing_left "$n" "$pid"
# No terminal on amber's side: the console's state comes from the image.
# Ptys held meanwhile take the freed indexes: the new console has another
# index than the old one (the tasks' controlling terminal is verified
# against the new one).
python3 -c 'import os, time
fds = [os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY) for _ in range(3)]
time.sleep(20)' &
e2e_track $!
sleep 0.5
"$AMBER" restore -D "$E2E_TMP/img" </dev/null >/dev/null 2>"$E2E_TMP/restore.err" ||
  fail "restore: $(cat "$E2E_TMP/restore.err")"
wait_until 5 test -S "$AMBER_STATE_DIR/$n/attach.sock"
printf '%s\n' 'send def\r' 'expect console: OK line=abcdef' 'send echo "again=$X."\r' 'expect again=442.' \
  'send exit 7\r' 'eof' >"$E2E_TMP/s2"
python3 "$driver" "$AMBER" "$n" "$E2E_TMP/s2" || fail "attach after the restore"
wait_until 10 ps_state_is "$n" "stopped (exit 7)"
