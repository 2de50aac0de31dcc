# A hard rlimit above amber's own cannot be set (no CAP_SYS_RESOURCE here, or
# amber lowered its own): restore refuses with exit 4 before creating
# anything, instead of restoring a task with other limits.
. "$E2E_LIB"

n=$(e2e_name rl)
img="$E2E_TMP/img"
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
hard=$(awk '/Max open files/ { print $5 }' /proc/$(init_pid "$n")/limits)
[ "$hard" -gt 64 ] || e2e_skip "the container's hard RLIMIT_NOFILE is only $hard"
"$AMBER" dump "$n" -D "$img"

note "restore with amber's own hard RLIMIT_NOFILE below the image's ($hard)"
set +e
(ulimit -n 64 && exec "$AMBER" restore -D "$img") >"$E2E_TMP/out" 2>"$E2E_TMP/err"
status=$?
set -e
assert_eq 4 "$status" "exit status (stderr: $(cat "$E2E_TMP/err"))"
assert_contains "$(cat "$E2E_TMP/err")" "RLIMIT_NOFILE" "refusal names the resource"
assert_nothing_left "$n"

note "with amber's own limits the image restores"
"$AMBER" restore -D "$img" >/dev/null
assert_eq "$hard" "$(awk '/Max open files/ { print $5 }' /proc/$(init_pid "$n")/limits)" "restored hard limit"
