# A process with 8 worker threads, each with its own name, signal mask,
# altstack and a counter it keeps incrementing: dumped, killed, restored
# with the same tids; the counters go on from where they were, and the
# threads end and are joined normally (clear-tid address restored). Run for
# the C workload (pthreads) and its C++ flavour (std::thread, std::atomic).
. "$E2E_LIB"

for wname in threads threads_cpp; do
note "$wname"
wl=$(e2e_workload "$wname")
n=$(e2e_name "$wname")
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "$wname: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
threads() {  # "tid comm SigBlk" of every thread, as the container sees them
  for t in /proc/$1/task/*; do
    echo "$(awk '/^NSpid:/ { print $NF }' $t/status) $(cat $t/comm) $(awk '/^SigBlk:/ { print $2 }' $t/status)"
  done | sort -n
}
sleep 0.3
kill -USR2 "$pid"
wait_until 5 grep -q "$wname: MARK" "$AMBER_STATE_DIR/$n/log"
before=$(threads "$pid")
echo "$before"
assert_eq 9 "$(echo "$before" | wc -l)" "threads"
assert_eq 9 "$(echo "$before" | awk '{ print $3 }' | sort -u | wc -l)" "distinct signal masks"

"$AMBER" dump "$n" -D "$E2E_TMP/img-$wname"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img-$wname" >/dev/null
pid2=$(init_pid "$n")
assert_eq "$before" "$(threads "$pid2")" "threads (tid, name, mask) after restore"

kill -USR1 "$pid2"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "$wname: OK" "workload verdict"
done
