# Issue 5's "done when", literally: a shell counting into /tmp/count (a
# `sleep 0.1` child forked every round) is dumped (the container is gone),
# restored, and counts on from where it stopped, with the same hostname and
# the same pids inside.
. "$E2E_LIB"

n=$(e2e_name c1)
"$AMBER" run --name "$n" -- sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done' >/dev/null
pid=$(init_pid "$n")
count() { "$AMBER" exec "$n" -- cat /tmp/count; }
counted_5() { [ "$(count 2>/dev/null || echo 0)" -ge 5 ]; }
wait_until 10 counted_5
host_before=$("$AMBER" exec "$n" -- hostname)

"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
run_cmd "$AMBER" show "$E2E_TMP/img"
pids_image=$(echo "$OUT" | awk '/^ +[0-9]+ .*ppid/ { print $1 }' | sort -n | xargs)
note "pids in the image: $pids_image"
count_image=$(echo "$OUT" | grep -o 'count.*' | head -1)

"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
# The pids right away (a restored `sleep 0.1` ends soon after).
pids_after=$(container_tree "$n" | awk '{ print $1 }' | xargs)
case " $pids_image " in *" 1 "*) ;; *) fail "no pid 1 in the image: $pids_image" ;; esac
for p in $pids_after; do
  case " $pids_image " in *" $p "*) ;; *) fail "pid $p after restore was not in the image ($pids_image)" ;; esac
done
c1=$(count)
sleep 1
c2=$(count)
note "count: $c1, a second later $c2"
[ "$c1" -ge 5 ] || fail "count restarted: $c1"
[ "$c2" -gt "$c1" ] || fail "count does not go on: $c1 then $c2"
assert_eq "$host_before" "$("$AMBER" exec "$n" -- hostname)" "hostname"
assert_eq 1 "$(container_tree "$n" | awk '$3 == 1 && $1 == 1' | wc -l)" "the shell is pid 1 again"
"$AMBER" kill "$n"
