# Open file descriptions the container shares with outside tasks, declared
# external at dump and handed in again at restore (--external SPEC=fd:N):
# - a pipe: a container task (left by amber exec --preserve-fds) copies
#   what an outside producer writes into a file of the container's /tmp;
#   the test's shell keeps the read end. Dumped with --external pipe:INODE
#   (nothing of the pipe in the image), restored with that read end as
#   fd N: the task goes on reading where it stopped, no line lost or twice;
# - a file: a container task appends lines to a file through a description
#   the shell holds too (O_APPEND); dumped with --external file:PATH,
#   restored with the shell's fd: the lines go on in the same file, in order;
# - restore without the fd, with a closed one, or with one of other flags:
#   exit 2 naming the external, nothing made;
# - what amber cannot give back is refused by name (exit 4): a mnt
#   namespace declared external.
. "$E2E_LIB"

command -v nsenter >/dev/null || e2e_skip "nsenter (util-linux) is not installed"

# in_cgroup NAME COMM: the first task of container NAME running COMM.
in_cgroup() {
  local t
  for t in $(cat "$AMBER_CGROUP_ROOT/$1/cgroup.procs"); do
    [ "$(cat /proc/$t/comm 2>/dev/null)" = "$2" ] && { echo "$t"; return 0; }
  done
  return 1
}
# goes_on_in_order FILE WORD: the restored task writes 50 more lines into
# FILE, and every line is "WORD N" with N = 0, 1, 2, ...: none lost or twice.
goes_on_in_order() {
  local file=$1 word=$2 before count
  before=$(wc -l <"$file")
  wait_until 20 eval 'test "$(wc -l <"$file")" -gt $((before + 50))'
  count=$(awk -v w="$word" '$1 != w || $2 != NR - 1 { printf "line %d: %s\n", NR, $0; bad = 1; exit 1 }
    END { if (!bad) print NR }' "$file") || fail "$file: a line lost or repeated across the restore: $count"
  note "$count lines, in order"
}

note "a pipe whose writer is outside"
n=$(e2e_name pipe)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
exec {rd}< <(i=0; while [ $i -lt 100000 ]; do echo "tick $i"; i=$((i + 1)); sleep 0.01; done)
e2e_track $!
"$AMBER" exec --preserve-fds 1 "$n" -- sh -c 'cat <&3 3<&- >/tmp/got 2>/dev/null &' 3<&"$rd"
wait_until 10 in_cgroup "$n" cat
cat_pid=$(in_cgroup "$n" cat)
wait_until 10 grep -q "^tick 20$" "/proc/$cat_pid/root/tmp/got"
ino=$(readlink "/proc/$$/fd/$rd" | tr -dc 0-9)
assert_leak "$n" pipe $$
assert_eq "pipe:$ino" "$(remedy_external)" "remedy"
img="$E2E_TMP/img-pipe"
"$AMBER" dump "$n" -D "$img" --external "pipe:$ino" >/dev/null
assert_nothing_left "$n" "$cat_pid"
assert_contains "$("$AMBER" show "$img")" "pipe:$ino: amber restore needs --external pipe:$ino=fd:N" "show lists the external"
assert_contains "$("$AMBER" show "$img")" "declared external pipe:$ino" "show marks the fd"
assert_fails 2 "the image needs external pipe:$ino: give it with --external pipe:$ino=fd:N" "$AMBER" restore -D "$img"
assert_fails 2 "fd 200 is not open" "$AMBER" restore -D "$img" --external "pipe:$ino=fd:200" 200<&-
exec {wr}>/dev/null
assert_fails 2 "is not a pipe or FIFO" "$AMBER" restore -D "$img" --external "pipe:$ino=fd:$wr"
assert_fails 2 "--external pipe:x" "$AMBER" restore -D "$img" --external "pipe:x=fd:$rd"
assert_nothing_left "$n"
"$AMBER" restore -D "$img" --external "pipe:$ino=fd:$rd" >/dev/null
cat_pid=$(in_cgroup "$n" cat)
goes_on_in_order "/proc/$cat_pid/root/tmp/got" tick

note "a file description shared with the shell (O_APPEND)"
m=$(e2e_name file)
"$AMBER" run --name "$m" -- sleep 1000 >/dev/null
shared="$E2E_BIN/shared.log"
exec {lf}>>"$shared"
"$AMBER" exec --preserve-fds 1 "$m" -- sh -c \
  '(i=0; while :; do echo "line $i"; i=$((i + 1)); sleep 0.02; done) >&3 3>&- 2>/dev/null </dev/null &' 3>&"$lf"
wait_until 10 grep -q "^line 20$" "$shared"
assert_leak "$m" shared-file $$
assert_eq "file:$shared" "$(remedy_external)" "remedy"
"$AMBER" dump "$m" -D "$E2E_TMP/img-file" --external "file:$shared" >/dev/null
exec {other}>"$E2E_BIN/other"  # O_WRONLY, not O_APPEND
assert_fails 2 "the image's description with" "$AMBER" restore -D "$E2E_TMP/img-file" --external "file:$shared=fd:$other"
assert_nothing_left "$m"
"$AMBER" restore -D "$E2E_TMP/img-file" --external "file:$shared=fd:$lf" >/dev/null
goes_on_in_order "$shared" line

note "a mnt namespace declared external is refused by name"
k=$(e2e_name mnt)
"$AMBER" run --name "$k" -- sleep 1000 >/dev/null
kpid=$(init_pid "$k")
nsenter -t "$kpid" -m sleep 1000 &
out=$!
e2e_track "$out"
wait_until 5 eval 'test "$(readlink /proc/$out/ns/mnt)" = "$(readlink /proc/$kpid/ns/mnt)"'
run_cmd "$AMBER" check "$k" --external mnt
assert_eq 4 "$STATUS" "check --external mnt ($OUT $ERR)"
assert_contains "$OUT" "amber restore can only join a net, uts, ipc or cgroup namespace" "check names it"
run_cmd "$AMBER" dump "$k" -D "$E2E_TMP/img-mnt" --external mnt
assert_eq 4 "$STATUS" "dump --external mnt ($ERR)"
assert_contains "$ERR" "--external mnt: the container's mnt namespace mnt:[" "dump names it"
[ ! -e "$E2E_TMP/img-mnt" ] || fail "a refused dump left an image"
assert_held_nothing "$k"
