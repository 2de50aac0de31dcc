# Seal check, leak class 1: an outside task that is a member of one of the
# container's namespaces. Reported with its pid, accepted by --external,
# refused by dump (exit 3, no image, container untouched); sealed again
# once it is gone.
. "$E2E_LIB"

n=$(e2e_name ns)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
pid=$(init_pid "$n")

note "a fresh container is sealed"
assert_sealed "$n"

note "an outside task joins its uts namespace"
nsenter -t "$pid" -u sleep 1000 &
out_pid=$!
e2e_track "$out_pid"
wait_until 5 eval 'test "$(readlink /proc/$out_pid/ns/uts)" = "$(readlink /proc/$pid/ns/uts)"'
assert_leak "$n" namespace "$out_pid"
assert_contains "$OUT" "uts namespace" "object of the leak"
assert_contains "$OUT" "member (uts)" "how the outside task holds it"
assert_eq uts "$(remedy_external)" "remedy"

note "--external uts accepts it"
run_cmd "$AMBER" check "$n" --external uts
assert_eq 0 "$STATUS" "check --external uts ($OUT $ERR)"
assert_contains "$OUT" "external (declared)" "accepted leak listed"

note "dump refuses with the same report and leaves the container running"
img="$E2E_TMP/img"
run_cmd "$AMBER" dump "$n" -D "$img"
assert_eq 3 "$STATUS" "dump of a leaking container"
assert_contains "$ERR" "class 1 (namespace)" "dump's report"
assert_contains "$ERR" "outside: pid $out_pid (" "dump's report names the outside pid"
[ ! -e "$img" ] || fail "a refused dump left $img"
assert_held_nothing "$n"
assert_eq "$pid" "$(init_pid "$n")" "init pid after the refused dump"

note "bad --external is bad usage"
assert_fails 2 "--external bogus" "$AMBER" check "$n" --external bogus

note "sealed once the outside task is gone"
kill "$out_pid"; wait "$out_pid" 2>/dev/null || true
assert_sealed "$n"
