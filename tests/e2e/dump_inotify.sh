# inotify (issue 13): an instance watching a file and a directory on the
# container's tmpfs, with wds that are not 1, 2 (earlier watches removed),
# keeps reporting writes and creates with the same wds after a real dump,
# kill and restore; its flags are kept and no event appears from nowhere.
# An instance with an unread event is refused by name (exit 4), the
# container running on with the event still queued.
. "$E2E_LIB"

wl=$(e2e_workload inotify)

note "watches survive dump -> kill -> restore with their wds"
n=$(e2e_name watch)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "inotify: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
grep -q "READY wds=4,6" "$AMBER_STATE_DIR/$n/log" || fail "wds: $(cat "$AMBER_STATE_DIR/$n/log")"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
grep -q "inotify wd:4 " /proc/"$(init_pid "$n")"/fdinfo/3 || fail "restored fdinfo: $(cat /proc/"$(init_pid "$n")"/fdinfo/3)"
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "inotify: OK wds=4,6" "workload verdict"

note "an unread event: refused by name, nothing lost"
n=$(e2e_name unread)
"$AMBER" run --name "$n" -- "$wl" unread >/dev/null
wait_until 10 grep -q "inotify: READY" "$AMBER_STATE_DIR/$n/log"
assert_fails 4 "task 1: fd 3: inotify fd with 16 bytes of unread events" "$AMBER" dump "$n" -D "$E2E_TMP/img-unread"
[ ! -e "$E2E_TMP/img-unread" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "inotify: OK" "workload verdict after the refusal"
