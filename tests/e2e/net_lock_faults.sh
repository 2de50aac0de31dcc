# The network lock on every failure path of a dump: a host client streams
# through an echo server in a --net veth container (net_echo_host.sh) while
# the dump fails at each of its fault points in turn, then once more with
# --leave-running. Each time the lock is lifted, the container runs on and
# the stream carries on; at the end a real dump -> kill -> restore, and the
# client checks that every byte it ever sent came back exactly once, in
# order (a failed dump that let a byte in after its read, or lost one,
# breaks the stream).
. "$(dirname "$E2E_LIB")/net_helpers.bash"

n=$(e2e_name f)
run_echo "$n"
start_stream s "$addr" 7000
grows s $((256 << 10))

points=$("$AMBER" dump --list-fault-points)
assert_contains "$points" "dump.net-lock" "the dump's fault points"
for p in $points; do
  note "dump fails at $p"
  dump_fails_at "$p" "$n"
  assert_held_nothing "$n"
  assert_unlocked "$n"
  grows s $((32 << 10))
done

note "--leave-running"
"$AMBER" dump "$n" -D "$E2E_TMP/img-leave" --leave-running >/dev/null
assert_held_nothing "$n"
assert_unlocked "$n"
grows s $((128 << 10))

note "and a real dump, kill, restore"
"$AMBER" dump "$n" -D "$E2E_TMP/img" >/dev/null
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
assert_unlocked "$n"
grows s $((256 << 10))
finish s stream
"$AMBER" kill "$n" >/dev/null
