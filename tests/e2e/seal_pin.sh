# Seal check, leak class 2: a namespace of the container pinned from
# outside, by an fd on its nsfs file and by a bind mount of it in the
# host's mount namespace.
. "$E2E_LIB"

n=$(e2e_name pin)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
pid=$(init_pid "$n")

note "an outside fd on /proc/INIT/ns/net"
sleep 1000 7<"/proc/$pid/ns/net" &
holder=$!
e2e_track "$holder"
wait_until 5 test -e /proc/$holder/fd/7
assert_leak "$n" namespace-pin "$holder"
assert_contains "$OUT" "fd 7" "how it is pinned"
assert_eq net "$(remedy_external)" "remedy"
kill "$holder"; wait "$holder" 2>/dev/null || true
assert_sealed "$n"

note "a bind mount of /proc/INIT/ns/ipc in an outside mount namespace"
# In a private mount namespace of its own: a bind mount in the host's would
# be copied into every mount namespace created meanwhile (each container
# other scenarios start) and pin the namespace from there too.
target="$E2E_TMP/ipc-pin"
touch "$target"
unshare -m --propagation private sh -c "mount --bind /proc/$pid/ns/ipc $target && echo ready && exec sleep 1000" \
  >"$E2E_TMP/ready" &
pinner=$!
e2e_track "$pinner"
wait_until 5 grep -q ready "$E2E_TMP/ready"
assert_leak "$n" namespace-pin "$pinner"
assert_contains "$OUT" "bind mount" "how it is pinned"
assert_contains "$OUT" "at $target" "where it is mounted"
assert_eq ipc "$(remedy_external)" "remedy"
kill "$pinner"; wait "$pinner" 2>/dev/null || true
assert_sealed "$n"
