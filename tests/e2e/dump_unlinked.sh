# Files open but unlinked: a log still written to by two processes through
# one description, a data file with its position, a file now under the old
# name left alone; plus a directory and /dev/urandom open. Checked after a
# real dump, kill and restore.
. "$E2E_LIB"

wl=$(e2e_workload unlinked)
n=$(e2e_name unl)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "unlinked: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
pid2=$(init_pid "$n")
for fd in /proc/$pid2/fd/*; do
  case "$(readlink "$fd")" in "/tmp/unlinked.log (deleted)") found=1 ;; esac
done
[ -n "${found:-}" ] || fail "no fd on '/tmp/unlinked.log (deleted)' after restore: $(ls -l /proc/$pid2/fd)"
kill -USR1 "$pid2"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "unlinked: OK" "workload verdict"
