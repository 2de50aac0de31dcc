# Seal check, leak class 4: a pipe with an end held outside (an outside
# open of /proc/PID/fd/N of a pipe: a new description on the same pipe, so
# only the inode tells), and a FIFO opened from outside.
. "$E2E_LIB"

n=$(e2e_name pipe)
"$AMBER" run --name "$n" -- sh -c 'sleep 1000 | sleep 1000' >/dev/null
pid=$(init_pid "$n")
# The task writing into the pipe (its stdout is the pipe).
pipe_writer() {
  local t
  for t in $(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs"); do
    case "$(readlink /proc/$t/fd/1)" in pipe:*) [ "$(cat /proc/$t/comm)" = sleep ] && echo "$t" ;; esac
  done
}
wait_until 5 eval 'test -n "$(pipe_writer)"'  # deferred: else expanded once, before the shell forked
writer=$(pipe_writer)
[ -n "$writer" ] || fail "no task of $n writes into a pipe"
assert_sealed "$n"

note "an outside reader of the container's pipe"
sleep 1000 3<"/proc/$writer/fd/1" &
reader=$!
e2e_track "$reader"
wait_until 5 test -e /proc/$reader/fd/3
assert_leak "$n" pipe "$reader"
assert_contains "$OUT" "$(readlink /proc/$writer/fd/1)" "the pipe is named"
ext=$(remedy_external)
assert_contains "$ext" "pipe:" "remedy"
run_cmd "$AMBER" check "$n" --external "$ext"
assert_eq 0 "$STATUS" "accepted with --external $ext ($OUT)"
kill "$reader"; wait "$reader" 2>/dev/null || true
assert_sealed "$n"

note "a FIFO the container holds, opened from outside"
fifo="$E2E_BIN/fifo"
mkfifo "$fifo"
m=$(e2e_name fifo)
"$AMBER" run --name "$m" -- sh -c "exec 3<>$fifo; exec sleep 1000" >/dev/null
mpid=$(init_pid "$m")
wait_until 5 test -e /proc/$mpid/fd/3
assert_sealed "$m"
sleep 1000 4>"$fifo" &
fw=$!
e2e_track "$fw"
wait_until 5 test -e /proc/$fw/fd/4
assert_leak "$m" pipe "$fw"
assert_eq "fifo:$fifo" "$(remedy_external)" "remedy"
kill "$fw"; wait "$fw" 2>/dev/null || true
assert_sealed "$m"
