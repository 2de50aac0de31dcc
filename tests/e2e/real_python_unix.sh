# A real python3 socketserver.UnixStreamServer (a forked child, in the
# container's /tmp) with a client mid-conversation, an answer unread in its
# socket: real dump -> kill -> restore; the client reads the answer that
# waited, talks on for 200 lines and opens a new connection.
. "$E2E_LIB"

py=/usr/bin/python3
[ -x "$py" ] || e2e_skip "$py is not installed (scripts/setup.sh installs python3)"
prog="$E2E_BIN/unix_chat.py"
cp "$(dirname "$E2E_LIB")/programs/unix_chat.py" "$prog"
n=$(e2e_name pyunix)
"$AMBER" run --name "$n" -- "$py" "$prog" >/dev/null
wait_until 20 grep -q "chat: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
kill -USR1 "$(init_pid "$n")"
wait_until 20 ps_state_is "$n" "stopped (exit 0)" || true
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "chat: OK" "python verdict"
