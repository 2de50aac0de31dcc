# The first vertical slice's "done when": a `sleep 1000` container dumped,
# killed, restored: still sleeping at the same pid inside, no stray errno,
# dumpable again, and it dies normally on `amber kill`.
. "$E2E_LIB"

n=$(e2e_name s1)
img="$E2E_TMP/i1"
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
pid=$(init_pid "$n")
wait_until 5 grep -q '^State:.*S (sleeping)' /proc/$pid/status

note "dump: the container is gone afterwards"
summary=$("$AMBER" dump "$n" -D "$img")
[ -f "$img/inventory.img" ] || fail "no image written"
assert_nothing_left "$n" "$pid"

note "dump reports how long the container was frozen: more than 0, at most the whole dump"
# "dumped NAME to DIR: 1 process (1 thread), 0.3 MiB in 41.2 ms, frozen 30.3 ms"
total=$(echo "$summary" | sed -n 's/.* in \([0-9.]*\) ms, frozen [0-9.]* ms$/\1/p')
frozen=$(echo "$summary" | sed -n 's/.*, frozen \([0-9.]*\) ms$/\1/p')
[ -n "$total" ] && [ -n "$frozen" ] || fail "no times in the dump's summary: $summary"
assert_contains "$summary" "1 process (1 thread)" "dump summary"
awk -v f="$frozen" -v t="$total" 'BEGIN { exit !(f > 0 && f <= t) }' ||
  fail "frozen $frozen ms is not within (0, $total] ms: $summary"

note "show prints the image"
run_cmd "$AMBER" show "$img"
assert_eq 0 "$STATUS" "amber show"
assert_contains "$OUT" "sleep" "amber show output"
# "dump: 1 processes, 1 threads, took 41.0 ms, container frozen 30.3 ms"
line=$(echo "$OUT" | grep 'container frozen') || fail "amber show prints no frozen time: $OUT"
took=$(echo "$line" | sed -n 's/.*took \([0-9.]*\) ms.*/\1/p')
shown=$(echo "$line" | sed -n 's/.*container frozen \([0-9.]*\) ms$/\1/p')
awk -v f="$shown" -v t="$took" 'BEGIN { exit !(f > 0 && f <= t) }' || fail "amber show: frozen time not plausible: $line"
run_cmd "$AMBER" show --json "$img"
assert_eq 0 "$STATUS" "amber show --json"
assert_contains "$OUT" "frozen" "amber show --json output"

note "restore: running again, same pid inside, still sleeping"
out=$("$AMBER" restore -D "$img")
assert_contains "$out" "restored $n from $img: 1 process (1 thread)," "restore prints its summary"
assert_eq running "$(ps_state "$n")" "state after restore"
pid2=$(init_pid "$n")
proc_alive "$pid2" || fail "restored init $pid2 is not running"
assert_eq sleep "$(cat /proc/$pid2/comm)" "comm of the restored init"
assert_eq 1 "$(awk '/^NSpid:/ { print $NF }' /proc/$pid2/status)" "pid inside the container"
sleep 1
proc_alive "$pid2" || fail "restored sleep died: $(cat "$AMBER_STATE_DIR/$n/exit" 2>/dev/null)"
grep -q '^State:.*S (sleeping)' /proc/$pid2/status || fail "restored sleep is not sleeping: $(grep State /proc/$pid2/status)"
assert_eq 0 "$(awk '/^TracerPid:/ { print $2 }' /proc/$pid2/status)" "TracerPid of the restored init"
assert_eq "$n" "$("$AMBER" exec "$n" -- /bin/hostname 2>/dev/null || "$AMBER" exec "$n" -- cat /proc/sys/kernel/hostname)" \
  "hostname inside the restored container"
assert_eq 1 "$("$AMBER" exec "$n" -- sh -c 'cat /proc/1/status' | awk '/^NSpid:/ { print $NF }')" "pid 1 seen from exec"

note "a second dump and restore of the restored container"
"$AMBER" dump "$n" -D "$img.2"
assert_nothing_left "$n" "$pid2"
"$AMBER" restore -D "$img.2" >/dev/null
pid3=$(init_pid "$n")
sleep 0.5
proc_alive "$pid3" || fail "twice-restored sleep is not running"

note "kill: dies normally"
"$AMBER" kill "$n"
assert_nothing_left "$n" "$pid3"
