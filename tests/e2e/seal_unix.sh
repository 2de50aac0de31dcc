# Seal check, class 5: a unix socket of the container whose peer an outside
# task holds — a client connected but not yet accepted (UDIAG_SHOW_ICONS),
# an accepted connection, a socketpair end passed out with SCM_RIGHTS, an
# outside datagram socket connected to a bound container one.
# Each leak is made by a real outside process, reported with its pid (text
# and JSON), accepted by the remedy's --external, and gone when the outside
# process is; `amber dump` refuses it the same way and leaves nothing.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/seal_helpers.bash"

wl=$(e2e_workload seal_unix)

note "a client waiting in the container's accept() queue"
n=$(e2e_name listen)
sock=$E2E_BIN/l.sock
"$AMBER" run --name "$n" -- "$wl" listen "$sock" "$E2E_BIN/l.ready" >/dev/null
seal_ready "$E2E_BIN/l.ready" >/dev/null
seal_bg "$wl" connect "$sock" "$E2E_BIN/c1.ready"
client=$SEAL_PID
seal_ready "$E2E_BIN/c1.ready" >/dev/null
seal_expect_leak "$n" 5 unix-socket "$client"
block=$(seal_block "$SEAL_TEXT" 5)
assert_contains "$block" "listening unix socket" "pending client: object kind"
assert_contains "$block" "\"$sock\"" "pending client: socket path"
assert_contains "$block" "waiting in accept()" "pending client: how the outside task holds it"
assert_contains "$block" "inside:  pid 1 (seal_unix" "pending client: the container's listener"
assert_eq "unix:$(stat -L -c %i /proc/"$(init_pid "$n")"/fd/3)" "$SEAL_EXTERNAL" "pending client: --external names the listener"
seal_stop "$client"
seal_expect_sealed "$n"

note "an accepted connection whose client is outside"
n=$(e2e_name serve)
sock=$E2E_BIN/s.sock
"$AMBER" run --name "$n" -- "$wl" serve "$sock" "$E2E_BIN/s.ready" >/dev/null
seal_ready "$E2E_BIN/s.ready" >/dev/null
seal_bg "$wl" connect "$sock" "$E2E_BIN/c2.ready"
client=$SEAL_PID
seal_ready "$E2E_BIN/c2.ready" >/dev/null
wait_until 5 grep -qx accepted "$E2E_BIN/s.ready"
seal_expect_leak_text "$n" 5 unix-socket "$client"
block=$(seal_block "$SEAL_TEXT" 5)
assert_contains "$block" "(peer socket:[" "accepted connection: how the outside task holds it"
assert_contains "$block" "inside:  pid 1 (seal_unix" "accepted connection: the container's end"
assert_not_contains "$block" "waiting in accept()" "accepted connection"

note "dump refuses the same leak (exit 3), writes nothing, the container keeps running"
img=$E2E_TMP/img
run_cmd "$AMBER" dump "$n" -D "$img"
assert_eq 3 "$STATUS" "dump of a leaking container: exit status ($OUT $ERR)"
assert_contains "$ERR" "$block" "dump's report"
[ ! -e "$img" ] || fail "dump refused but left $img: $(ls -A "$img")"
seal_untouched "$n"
proc_alive "$client" || fail "the outside client died during the refused dump"
seal_stop "$client"
seal_expect_sealed "$n"

note "one end of a socketpair passed out with SCM_RIGHTS"
n=$(e2e_name pair)
sock=$E2E_BIN/p.sock
seal_bg "$wl" receive "$sock" "$E2E_BIN/r.ready"
receiver=$SEAL_PID
wait_until 5 test -S "$sock"
"$AMBER" run --name "$n" -- "$wl" pair "$sock" "$E2E_BIN/p.ready" >/dev/null
infd=$(seal_ready "$E2E_BIN/p.ready")
outfd=$(seal_ready "$E2E_BIN/r.ready")
seal_expect_leak_text "$n" 5 unix-socket "$receiver"
block=$(seal_block "$SEAL_TEXT" 5)
assert_contains "$block" "inside:  pid 1 (seal_unix, host pid $(init_pid "$n")): fd $infd" "socketpair: the container's end"
assert_contains "$block" "outside: pid $receiver (seal_unix): fd $outfd (peer socket:[" "socketpair: the outside end"
seal_stop "$receiver"
seal_expect_sealed "$n"

note "an outside datagram socket connected to the container's (only its side names the peer)"
n=$(e2e_name dgram)
sock=$E2E_BIN/d.sock
"$AMBER" run --name "$n" -- "$wl" dgram "$sock" "$E2E_BIN/d.ready" >/dev/null
seal_ready "$E2E_BIN/d.ready" >/dev/null
seal_bg "$wl" dgram-connect "$sock" "$E2E_BIN/dc.ready"
client=$SEAL_PID
seal_ready "$E2E_BIN/dc.ready" >/dev/null
seal_expect_leak_text "$n" 5 unix-socket "$client"
block=$(seal_block "$SEAL_TEXT" 5)
assert_contains "$block" "\"$sock\"" "datagram: socket path"
assert_contains "$block" "connected to it)" "datagram: how the outside task holds it"
seal_stop "$client"
seal_expect_sealed "$n"
