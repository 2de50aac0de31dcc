# Big memory through the parallel copies: 96 MiB of pattern and a 32 MiB
# area of zero pages (with a few marked pages) are dumped, killed, restored
# and checked byte for byte by the program itself. The zero stretches are
# holes of the page data file (it allocates less than it is long), and a
# dump or restore on a terminal draws the progress bar; off a terminal it
# draws nothing. Both ways of filling anonymous memory are used.
. "$E2E_LIB"

wl=$(e2e_workload memory)
n=$(e2e_name mem)
img="$E2E_TMP/img"
"$AMBER" run --name "$n" -- "$wl" 96 32 >/dev/null
wait_until 30 grep -q "ready" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")

# On a terminal (script(1) gives it one), with the bar's delay at 0.
AMBER_PROGRESS_AFTER_MS=0 script -qec "$AMBER dump $n -D $img" "$E2E_TMP/dump.tty" >/dev/null
assert_nothing_left "$n" "$pid"
tty=$(tr '\r' '\n' <"$E2E_TMP/dump.tty")
assert_contains "$tty" "dump" "progress bar label"
assert_contains "$tty" "100%" "progress bar at the end"

data=$(ls "$img"/tasks/1/pages-1.bin)
size=$(stat -c %s "$data")
alloc=$(( $(stat -c %b "$data") * $(stat -c %B "$data") ))
note "page data: $size bytes long, $alloc allocated"
[ "$size" -ge $(( 128 << 20 )) ] || fail "page data holds $size bytes, less than the 128 MiB written"
[ "$alloc" -le $(( size - (24 << 20) )) ] || fail "the zero pages were written: $alloc of $size bytes allocated"

# Off a terminal: no bar, nothing on stderr. Anonymous memory filled the
# other way (populate + process_vm_writev, the fallback without userfaultfd).
AMBER_MEMORY_FILL=writev "$AMBER" restore -D "$img" >/dev/null 2>"$E2E_TMP/restore.err"
assert_eq "" "$(cat "$E2E_TMP/restore.err")" "restore's stderr off a terminal"
pid2=$(init_pid "$n")
kill -USR1 "$pid2"
wait_until 30 grep -q "memory: " "$AMBER_STATE_DIR/$n/log"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "memory: OK" "the restored memory"

# Once more through the restored task, restore (by userfaultfd) on a
# terminal this time.
"$AMBER" dump "$n" -D "$img.2" 2>"$E2E_TMP/dump.err"
assert_eq "" "$(grep -v "dumped to" "$E2E_TMP/dump.err" || true)" "dump's stderr off a terminal"
AMBER_PROGRESS_AFTER_MS=0 script -qec "$AMBER restore -D $img.2" "$E2E_TMP/restore.tty" >/dev/null
assert_contains "$(tr '\r' '\n' <"$E2E_TMP/restore.tty")" "restore" "restore's progress bar"
pid3=$(init_pid "$n")
kill -USR1 "$pid3"
# The restored log begins with the first round's (it travels in the
# image): the second round's verdict is the second.
wait_until 30 eval '[ "$(grep -c "memory: " "$AMBER_STATE_DIR/$n/log")" -ge 2 ]'
assert_contains "$(grep "memory: " "$AMBER_STATE_DIR/$n/log" | sed -n 2p)" "memory: OK" "the memory after a second round"
"$AMBER" kill "$n"
