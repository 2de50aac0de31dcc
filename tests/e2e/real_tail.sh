# GNU tail -f (coreutils, following with inotify) of a growing file, as a
# container's only program: lines written before the dump, between the dump
# and the restore, and after the restore each come out of tail exactly once,
# in order, in the restored container's log (which begins with the log at
# the dump: it travels in the image). tail blocks in read() on its inotify fd: without its watch (same
# wd, on the same file) it would never print the lines written later.
. "$E2E_LIB"

command -v tail >/dev/null || e2e_skip "no tail"
file="$E2E_BIN/grow.txt"  # the container sees /var/tmp, not the host's /tmp
: >"$file"
add_lines() {  # FIRST LAST
  local i
  for i in $(seq "$1" "$2"); do echo "line $i" >>"$file"; done
}
log_has() { grep -qx "$1" "$AMBER_STATE_DIR/$n/log"; }
# tail's inotify fd, or nothing.
inotify_fd() { ls -l /proc/"$1"/fd 2>/dev/null | grep -c 'anon_inode:inotify' || true; }

n=$(e2e_name tail)
add_lines 1 5
"$AMBER" run --name "$n" -- "$(command -v tail)" -n +1 -f "$file" >/dev/null
wait_until 10 log_has "line 5"
pid=$(init_pid "$n")
wait_until 10 eval '[ "$(inotify_fd "$pid")" = 1 ]'
add_lines 6 8
wait_until 10 log_has "line 8"
sleep 0.3  # tail back in read() on the inotify fd, its event consumed
cp "$AMBER_STATE_DIR/$n/log" "$E2E_TMP/log-before"
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
add_lines 9 12  # while no tail runs
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid=$(init_pid "$n")
assert_eq 1 "$(inotify_fd "$pid")" "restored tail's inotify fds"
sleep 0.3
add_lines 13 15
wait_until 10 log_has "line 15"
sleep 0.3
want=$(for i in $(seq 1 15); do echo "line $i"; done)
assert_eq "$want" "$(cat "$AMBER_STATE_DIR/$n/log")" "tail's output (each line once, in order)"
cmp -s -n "$(stat -c %s "$E2E_TMP/log-before")" "$E2E_TMP/log-before" "$AMBER_STATE_DIR/$n/log" ||
  fail "the restored log does not begin with the log at the dump"
"$AMBER" kill "$n"
