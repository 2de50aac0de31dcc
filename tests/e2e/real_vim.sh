# vim (the team did not write it) in an `amber run --tty` container, driven
# through amber attach from a terminal of the test's own (python3's pty):
# text is typed, the cursor moved into the middle of it, then dump -> kill
# -> restore (amber restore run from a terminal); a new attach types more at
# the cursor and `:wq`. The file
# holds both texts, the second inserted where the cursor was before the
# dump (so vim's state, the console and its input all survived).
. "$E2E_LIB"
command -v python3 >/dev/null || e2e_skip "no python3"
command -v vim >/dev/null || e2e_skip "no vim (scripts/setup.sh installs it)"
driver="$(dirname "$E2E_LIB")/tools/attach_driver.py"
export ATTACH_SIZE=24x80
file="$E2E_BIN/notes.txt"

n=$(e2e_name vim)
"$AMBER" run --tty --name "$n" --env TERM=xterm --env HOME=/ -- vim -u NONE -N -i NONE -n "$file" </dev/null >/dev/null
wait_until 5 test -S "$AMBER_STATE_DIR/$n/attach.sock"
pid=$(init_pid "$n")
# Ctrl-L: vim redraws for the size the attach gave it.
printf '%s\n' 'sleep 1' 'send \x0c' 'expect notes.txt' 'send iHELLO WORLD' 'send \x1b' 'sleep 1.2' 'send 0w' \
  'sleep 0.5' 'send :echo "ma"."rk1"\r' 'expect mark1' 'detach' >"$E2E_TMP/s1"
python3 "$driver" "$AMBER" "$n" "$E2E_TMP/s1" || fail "first attach"

"$AMBER" dump "$n" -D "$E2E_TMP/img" >/dev/null
assert_nothing_left "$n" "$pid"
# Restored from a terminal of its own (script): the console's size is the
# image's, not this terminal's.
script -qec "stty rows 12 cols 34; $AMBER restore -D $E2E_TMP/img" /dev/null </dev/null >/dev/null ||
  fail "restore from a terminal"
wait_until 5 test -S "$AMBER_STATE_DIR/$n/attach.sock"
printf '%s\n' 'send \x0c' 'expect HELLO WORLD' 'send iBIG ' 'send \x1b' 'sleep 1.2' 'send osecond line' 'send \x1b' \
  'sleep 1.2' 'send :wq\r' 'eof' >"$E2E_TMP/s2"
python3 "$driver" "$AMBER" "$n" "$E2E_TMP/s2" || fail "attach after the restore"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
got=$(cat "$file")
assert_eq "HELLO BIG WORLD
second line" "$got" "the file vim wrote"
