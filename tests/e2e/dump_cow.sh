# Memory shared copy-on-write between a parent and its children (a forked
# server): the parent fills 64 MiB, forks 4 children that each write and
# drop a few pages (the first forks a grandchild that writes a few more);
# the parent writes and drops a few of its own after the fork. A dump must not unshare it in the live tasks (process_vm_readv's
# read-only pin would), stores the shared pages once (in the parent's page
# store; the children's list them as their parent's), and a restore gives
# the sharing back: each child's Pss is about a fifth of its Rss again, and
# every process checks every page of the area itself.
. "$E2E_LIB"

wl=$(e2e_workload cow)
n=$(e2e_name cow)
img="$E2E_TMP/img"
"$AMBER" run --name "$n" -- "$wl" 64 4 >/dev/null
wait_until 30 grep -q "cow: READY" "$AMBER_STATE_DIR/$n/log"

kb() { awk -v f="$2:" '$1 == f { print $2 }' /proc/$1/smaps_rollup; }
descendants() {  # every process of the container but the init
  local init c
  init=$(init_pid "$n")
  for c in $(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs"); do [ "$c" = "$init" ] || echo "$c"; done
}
# Every child and the grandchild: its Pss is below half its Rss (shared
# with the parent and the others; each on its own would have Pss = Rss).
# With "copies": each has its own (Pss above 90% of Rss).
check_shared() {  # WHEN [copies]
  local c rss pss k=0
  for c in $(descendants); do
    rss=$(kb "$c" Rss)
    pss=$(kb "$c" Pss)
    note "$1: process $c: Rss $rss kB, Pss $pss kB"
    [ "$rss" -gt 60000 ] || fail "$1: process $c has only $rss kB resident"
    if [ "${2:-}" = copies ]; then
      [ $(( pss * 10 )) -gt $(( rss * 9 )) ] || fail "$1: process $c shares pages (Pss $pss kB of Rss $rss kB)"
    else
      [ $(( pss * 2 )) -lt "$rss" ] || fail "$1: process $c does not share its parent's pages (Pss $pss kB of Rss $rss kB)"
    fi
    k=$((k + 1))
  done
  assert_eq 5 "$k" "$1: children and grandchild"
}
check_shared "before the dump"

run_cmd "$AMBER" dump "$n" -D "$img" --leave-running
assert_eq 0 "$STATUS" "dump --leave-running (stderr: $ERR)"
assert_not_contains "$ERR" "copy-on-write" "no warning: the restore keeps this sharing"
check_shared "after dump --leave-running"
"$AMBER" kill "$n"

# The shared pages are stored once: in the init's page store, the
# children's hold only the pages that are their own.
parent=$(stat -c %s "$img/tasks/1/pages-1.bin")
[ "$parent" -ge $(( 64 << 20 )) ] || fail "the parent's page store holds $parent bytes, less than its 64 MiB"
for f in "$img"/tasks/*/pages-*.bin; do
  case "$f" in */tasks/1/*) continue ;; esac
  s=$(stat -c %s "$f")
  note "$(basename "$f"): $s bytes"
  [ "$s" -lt $(( 4 << 20 )) ] || fail "$f holds $s bytes: the pages shared with the parent were stored again"
done

note "a child's page marked as its parent's that it also stores: refused as corrupt"
edit="$WORKLOADS/image_edit"
cp -a "$img" "$img.bad"
"$edit" "$img.bad" decode tasks/2/pages-2.img >"$E2E_TMP/ix.txt"
# Page npages/2 + 8 of the area (64 MiB: 8200) is the child's own (the
# parent dropped it after the fork); its first parent run starts at the
# area's start.
start=$(awk '/parent_runs/ { p = 1 } p && /vaddr:/ { print $2; exit }' "$E2E_TMP/ix.txt")
[ -n "$start" ] || fail "no parent_runs in task 2's page index"
python3 - "$E2E_TMP/ix.txt" "$start" <<'PY'
import re, sys
path, start = sys.argv[1], int(sys.argv[2])
text = open(path).read()
text = re.sub(r"parent_runs \{[^}]*\}\s*", "", text)
text += "parent_runs {\n  vaddr: %d\n  nr_pages: 1\n}\n" % (start + 8200 * 4096)
open(path, "w").write(text)
PY
"$edit" "$img.bad" encode tasks/2/pages-2.img <"$E2E_TMP/ix.txt"
run_cmd "$AMBER" restore -D "$img.bad"
assert_eq 2 "$STATUS" "restore of the corrupt image (stderr: $ERR)"
assert_contains "$ERR" "tasks/2/pages-2.img: corrupt: parent run at" "the file and the cause"
assert_eq "" "$(ls "$AMBER_STATE_DIR" | grep -x "$n" || true)" "state left by the refused restore"

note "restore: the sharing is back and every page is right"
run_cmd "$AMBER" restore -D "$img"
assert_eq 0 "$STATUS" "restore (stderr: $ERR)"
check_shared "after the restore"

note "a second round: the restored container dumps with the sharing again"
run_cmd "$AMBER" dump "$n" -D "$img.2"
assert_eq 0 "$STATUS" "second dump (stderr: $ERR)"
assert_not_contains "$ERR" "copy-on-write" "no warning on the second dump"
for f in "$img.2"/tasks/*/pages-*.bin; do
  case "$f" in */tasks/1/*) continue ;; esac
  s=$(stat -c %s "$f")
  [ "$s" -lt $(( 4 << 20 )) ] || fail "second dump: $f holds $s bytes"
done
run_cmd "$AMBER" restore -D "$img.2"
assert_eq 0 "$STATUS" "second restore (stderr: $ERR)"
check_shared "after the second restore"
kill -USR1 "$(init_pid "$n")"
wait_until 30 grep -q "cow: OK\|cow: FAIL" "$AMBER_STATE_DIR/$n/log"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "cow: OK" "every page of every process"
assert_not_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "FAIL" "every page of every process"

note "a restore that does not give the sharing back fails, naming the task and the area"
"$AMBER" kill "$n"
run_cmd env AMBER_BREAK=restore.cow-share "$AMBER" restore -D "$img"
assert_eq 1 "$STATUS" "restore that lost the sharing (stderr: $ERR)"
# The area is named by its range (where mmap put it: 7f... or 7e...).
[[ "$ERR" =~ task\ 2:\ area\ [0-9a-f]+-[0-9a-f]+: ]] || fail "the task and area named: $ERR"
assert_contains "$ERR" "are not shared after the restore" "the cause"
assert_eq "" "$(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs" 2>/dev/null)" "processes left by the failed restore"
run_cmd "$AMBER" restore -D "$img"
assert_eq 0 "$STATUS" "restore (stderr: $ERR)"

note "the same image restored by copying (AMBER_NO_COW_SHARING=1): content right, not shared"
"$AMBER" kill "$n"
run_cmd env AMBER_NO_COW_SHARING=1 "$AMBER" restore -D "$img"
assert_eq 0 "$STATUS" "restore without sharing (stderr: $ERR)"
check_shared "restored without sharing" copies
kill -USR1 "$(init_pid "$n")"
wait_until 30 grep -q "cow: OK\|cow: FAIL" "$AMBER_STATE_DIR/$n/log"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "cow: OK" "every page, restored without sharing"
"$AMBER" kill "$n"
