# Seal check, leak class 3: an open file description of the container that
# an outside task holds too (taken with pidfd_getfd, like SCM_RIGHTS or an
# inherited fd). Another open of the same file is not a leak.
. "$E2E_LIB"

outside=$(e2e_workload outside)
n=$(e2e_name file)
"$AMBER" run --name "$n" -- sh -c 'exec 5>/tmp/data; exec sleep 1000' >/dev/null
pid=$(init_pid "$n")
wait_until 5 test -e /proc/$pid/fd/5

note "another open of the same file is no leak"
sleep 1000 6>>"/proc/$pid/root/tmp/data" &
other=$!
e2e_track "$other"
wait_until 5 test -e /proc/$other/fd/6
assert_sealed "$n"
kill "$other"; wait "$other" 2>/dev/null || true

note "the same description, taken with pidfd_getfd"
"$outside" getfd "$pid" 5 >"$E2E_TMP/ready" &
grab=$!
e2e_track "$grab"
wait_until 5 grep -q ready "$E2E_TMP/ready"
assert_leak "$n" shared-file "$grab"
assert_contains "$OUT" "/tmp/data" "the file is named"
assert_eq file:/tmp/data "$(remedy_external)" "remedy"
run_cmd "$AMBER" check "$n" --external file:/tmp/data
assert_eq 0 "$STATUS" "accepted with --external file:/tmp/data ($OUT)"
kill "$grab"; wait "$grab" 2>/dev/null || true
assert_sealed "$n"
