# One report of every blocker (issue 13): a sealed container holding several
# objects amber cannot dump yet, in two processes. `amber check` lists every
# one of them (exit 4: sealed, not dumpable yet), each task named once by
# its pid inside the container; `amber dump` refuses with the same list
# (exit 4) before it reads anything and the container runs on untouched.
. "$E2E_LIB"

wl=$(e2e_workload blockers)
n=$(e2e_name c)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "blockers: READY" "$AMBER_STATE_DIR/$n/log"

note "amber check: sealed, and every unsupported object listed (exit 4)"
set +e
out=$("$AMBER" check "$n" 2>&1)
rc=$?
set -e
[ "$rc" = 4 ] || fail "check exit $rc, want 4: $out"
assert_contains "$out" "sealed: nothing the container uses is used outside it" "the seal check passed"
for want in "task 1: fd 3: socket:" "task 1: fd 4: socket:" "task 1: fd 5: anon_inode:[userfaultfd]" \
  "anon_inode:[io_uring] (io_uring): not supported yet" "task 2: mapping" "(io_uring ring): not supported yet" \
  "task 2: fd 5: anon_inode:[userfaultfd]"; do
  assert_contains "$out" "$want" "check names '$want'"
done
assert_not_contains "$out" "task 1: task 1" "each task named once"
assert_contains "$out" "NOT DUMPABLE YET: 8 objects" "eight blockers (the child inherited the init's three)"
json=$("$AMBER" check "$n" --json 2>/dev/null || true)
[ "$(printf '%s' "$json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["unsupported"]))')" = 8 ] ||
  fail "check --json does not list the 8 blockers: $json"

note "amber dump: the same list, exit 4, no image, the container untouched"
before=$(task_snapshot "$n" "$(init_pid "$n")")
set +e
out=$("$AMBER" dump "$n" -D "$E2E_TMP/img" 2>&1)
rc=$?
set -e
[ "$rc" = 4 ] || fail "dump exit $rc, want 4: $out"
assert_contains "$out" "8 objects amber cannot dump yet" "the dump lists all eight"
assert_contains "$out" "(io_uring ring): not supported yet" "the child's mapping"
assert_contains "$out" "task 1: fd 5: anon_inode:[userfaultfd]" "the init's fd"
[ ! -e "$E2E_TMP/img" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
[ "$(task_snapshot "$n" "$(init_pid "$n")")" = "$before" ] || fail "the container changed across the refused dump"
"$AMBER" kill "$n" >/dev/null

