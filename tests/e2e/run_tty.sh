# amber run --tty: the init's stdio and controlling terminal is a pty whose
# master the shim keeps; amber attach reaches it from a terminal (a pty of
# the driver), types, detaches with Ctrl-P Ctrl-Q, attaches again, and the
# shell is the same one. A dump with --leave-running (the console's queues
# read and put back) leaves it running with its terminal as it was
# (dump_tty_console restores one).
. "$E2E_LIB"
command -v python3 >/dev/null || e2e_skip "no python3"
driver="$(dirname "$E2E_LIB")/tools/attach_driver.py"

n=$(e2e_name tty)
"$AMBER" run --tty --name "$n" -- /bin/sh >/dev/null
wait_until 5 test -S "$AMBER_STATE_DIR/$n/attach.sock"
printf '%s\n' 'send X=4$((40+2)); tty; echo "v=$X."\r' 'expect v=442.' 'detach' >"$E2E_TMP/s1"
python3 "$driver" "$AMBER" "$n" "$E2E_TMP/s1" || fail "first attach"
# A partial line typed and not read yet (the shell reads it on the next
# attach's Enter): the dump reads the console's input queue and puts it back.
printf '%s\n' 'send echo "typed=$X."' 'sleep 0.3' 'detach' >"$E2E_TMP/s-partial"
python3 "$driver" "$AMBER" "$n" "$E2E_TMP/s-partial" || fail "attach typing a partial line"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img" --leave-running
assert_eq 0 "$STATUS" "dump --leave-running of a --tty container (stderr: $ERR)"
assert_eq running "$(ps_state "$n")" "state after the dump"
printf '%s\n' 'send \r' 'expect typed=442.' 'send echo "again=$X."\r' 'expect again=442.' 'send exit 3\r' 'eof' >"$E2E_TMP/s2"
python3 "$driver" "$AMBER" "$n" "$E2E_TMP/s2" || fail "second attach"
wait_until 10 ps_state_is "$n" "stopped (exit 3)"
run_cmd "$AMBER" attach "$n"
assert_eq 2 "$STATUS" "attach to a stopped container (stderr: $ERR)"
