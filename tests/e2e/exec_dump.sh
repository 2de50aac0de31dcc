# What `amber exec` leaves in a container can be dumped and restored (issue
# 12, item 4). Run from a shell that holds extra fds (fd 10 on /dev/null, a
# pipe at fd 251), as a user's shell may:
# - the exec'd command gets fds 0-2 only, plus fds 3..3+N-1 with
#   --preserve-fds N (a --preserve-fds fd that is not open: exit 2);
# - it runs in a session of its own inside the container, so a background
#   process it leaves behind is dumped and restored (same pid, parent the
#   init, its session and group) — before, its session and group were the
#   caller's, 0 inside the container, and no restore could recreate them;
# - signals sent to amber exec reach the command;
# - `amber exec -d` returns at once printing the command's pid in the
#   container, its stdin /dev/null and its stdout/stderr the container's log,
#   a child of the init; it round-trips too;
# - a task whose session is outside the container (it joined with nsenter
#   and was moved into the cgroup by hand) is refused by name, exit 4.
. "$E2E_LIB"

command -v nsenter >/dev/null || e2e_skip "nsenter (util-linux) is not installed"

# The extra fds a user's shell may hold; none of them is for the container.
exec 10</dev/null
exec 251< <(exec sleep 600)
e2e_track $!

# fds_of NAME HOST-PID: the fd numbers of a process, one line, sorted.
fds_of() { ls /proc/$1/fd | sort -n | tr '\n' ' ' | sed 's/ $//'; }
# tree_line NAME VPID: the container_tree line of VPID ("pid ppid pgid sid state comm").
tree_line() { container_tree "$1" | awk -v p="$2" '$1 == p'; }
# host_pid NAME VPID: the host pid of the container's process VPID.
host_pid() {
  local p
  for p in $(cat "$AMBER_CGROUP_ROOT/$1/cgroup.procs"); do
    [ "$(awk '/^NSpid:/ { print $NF }' /proc/$p/status 2>/dev/null)" = "$2" ] && { echo "$p"; return 0; }
  done
  return 1
}

n=$(e2e_name c)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null

note "the exec'd command has fds 0-2 only"
# (sh lists its own fds with no pipeline running, which would add pipe ends.)
run_cmd "$AMBER" exec "$n" -- sh -c 'ls /proc/$$/fd'
assert_eq 0 "$STATUS" "amber exec (stderr: $ERR)"
assert_eq "0 1 2" "$(printf '%s\n' "$OUT" | sort -n | tr '\n' ' ' | sed 's/ $//')" "fds of the exec'd command"

note "--preserve-fds 1 passes fd 3 on, and only it"
run_cmd "$AMBER" exec --preserve-fds 1 "$n" -- sh -c 'ls /proc/$$/fd; cat <&3' 3<<<"three"
assert_eq 0 "$STATUS" "amber exec --preserve-fds 1 (stderr: $ERR)"
assert_eq "0 1 2 3 three" "$(printf '%s\n' "$OUT" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "fds of the exec'd command with --preserve-fds 1, and what fd 3 reads"
assert_fails 2 "--preserve-fds 2: fd 4 is not open" "$AMBER" exec --preserve-fds 2 "$n" -- true 3</dev/null
# With fd 3 closed by the caller, amber's own --log-file takes it: not passed on.
assert_fails 2 "--preserve-fds 1: fd 3 is amber's own, not one passed to it" \
  "$AMBER" --log-file "$E2E_TMP/amber.log" exec --preserve-fds 1 "$n" -- true 3<&-

note "the exec'd command is in a session and group of its own, inside the container"
run_cmd "$AMBER" exec "$n" -- sh -c 'echo $$; grep -E "^NS(pgid|sid):" /proc/$$/status | cut -f2'
assert_eq 0 "$STATUS" "amber exec (stderr: $ERR)"
me=$(printf '%s\n' "$OUT" | sed -n 1p)
assert_eq "$me $me" "$(printf '%s\n' "$OUT" | sed -n '2,3p' | tr '\n' ' ' | sed 's/ $//')" "pgid and sid of the exec'd sh"

note "a signal sent to amber exec reaches the command"
"$AMBER" exec "$n" -- sleep 600 &
ex=$!
wait_until 10 eval '[ -n "$(container_tree "$n" | awk "\$6 == \"sleep\" && \$1 != 1")" ]'
kill -TERM "$ex"
set +e
timeout 10 tail --pid="$ex" -f /dev/null
wait "$ex"
st=$?
set -e
assert_eq 143 "$st" "amber exec's status after SIGTERM (the command's: killed by SIGTERM)"
wait_until 10 eval '[ -z "$(container_tree "$n" | awk "\$6 == \"sleep\" && \$1 != 1")" ]'

note "a background process left by amber exec round-trips"
"$AMBER" exec "$n" -- sh -c 'sleep 500 >/dev/null 2>&1 </dev/null & exit 0'
wait_until 10 eval '[ -n "$(container_tree "$n" | awk "\$6 == \"sleep\" && \$1 != 1")" ]'
left=$(container_tree "$n" | awk '$6 == "sleep" && $1 != 1')
read -r lpid lppid lpgid lsid _ <<<"$left"
assert_eq 1 "$lppid" "parent of the leftover sleep (the init)"
assert_ne 0 "$lsid" "session of the leftover sleep"
assert_ne 0 "$lpgid" "process group of the leftover sleep"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img-left"
assert_eq 0 "$STATUS" "dump with an exec's leftover process (stderr: $ERR)"
run_cmd "$AMBER" restore -D "$E2E_TMP/img-left"
assert_eq 0 "$STATUS" "restore of it (stderr: $ERR)"
assert_eq "$left" "$(tree_line "$n" "$lpid")" "the leftover sleep after restore"
assert_eq "1 0 1 1 S sleep" "$(tree_line "$n" 1)" "the init after restore"

note "amber exec -d: returns at once with the pid in the container"
start=$(date +%s%N)
run_cmd "$AMBER" exec -d "$n" -- sh -c 'echo detached-hello; echo detached-err >&2; exec sleep 600'
took=$((($(date +%s%N) - start) / 1000000))
assert_eq 0 "$STATUS" "amber exec -d (stderr: $ERR)"
[ "$took" -lt 5000 ] || fail "amber exec -d took $took ms"
dpid=$OUT
[[ "$dpid" =~ ^[0-9]+$ ]] || fail "amber exec -d printed '$dpid', not a pid"
wait_until 10 eval '[ "$(tree_line "$n" "$dpid" | cut -d" " -f6)" = sleep ]'
assert_eq "$dpid 1 $dpid $dpid S sleep" "$(tree_line "$n" "$dpid")" "the detached process: a child of the init, own session"
h=$(host_pid "$n" "$dpid")
assert_eq "0 1 2" "$(fds_of "$h")" "fds of the detached process"
assert_eq /dev/null "$(readlink /proc/$h/fd/0)" "stdin of the detached process"
assert_eq "$AMBER_STATE_DIR/$n/log" "$(readlink /proc/$h/fd/1)" "stdout of the detached process"
assert_eq "$AMBER_STATE_DIR/$n/log" "$(readlink /proc/$h/fd/2)" "stderr of the detached process"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "detached-hello" "log"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "detached-err" "log"
assert_fails 127 "nonexistent-cmd: command not found" "$AMBER" exec -d "$n" -- nonexistent-cmd

note "a detached process round-trips"
before=$(container_tree "$n" | grep -v ' Z ')
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img-detached"
assert_eq 0 "$STATUS" "dump with a detached process (stderr: $ERR)"
run_cmd "$AMBER" restore -D "$E2E_TMP/img-detached"
assert_eq 0 "$STATUS" "restore of it (stderr: $ERR)"
assert_eq "$before" "$(container_tree "$n")" "the container's tree after restore"
h=$(host_pid "$n" "$dpid")
assert_eq "$AMBER_STATE_DIR/$n/log" "$(readlink /proc/$h/fd/1)" "stdout of the restored detached process"
"$AMBER" kill "$n" >/dev/null

note "a task whose session is outside the container is refused by name"
n=$(e2e_name joined)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
ipid=$(init_pid "$n")
# The wrapper moves itself into the container's cgroup, so that the seal
# check finds the cgroup and the pid namespace in agreement; its session and
# group (this script's) are outside the container. It closes every fd but
# 0-2 first: this script's (and ctest's) would be seal-check leaks.
bash -c 'for f in /proc/$$/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f>&-"; done 2>/dev/null
  echo $$ >"$1/cgroup.procs" && exec nsenter -t "$2" -a -- sh -c "sleep 500 </dev/null >/dev/null 2>&1 &"' \
  _ "$AMBER_CGROUP_ROOT/$n" "$ipid"
wait_until 10 eval '[ "$(wc -l <"$AMBER_CGROUP_ROOT/$n/cgroup.procs")" = 2 ]'
jpid=$(container_tree "$n" | awk '$6 == "sleep" && $1 != 1 { print $1 }')
assert_eq "$jpid 1 0 0 S sleep" "$(tree_line "$n" "$jpid")" "the joined sleep (session and group outside)"
assert_fails 4 "task $jpid (sleep): its session is outside the container" \
  "$AMBER" dump "$n" -D "$E2E_TMP/img-joined"
[ ! -e "$E2E_TMP/img-joined" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
