# The blocker scan knows the net namespace: what `amber dump` would refuse
# of it (here a bridge, a link kind it does not restore) `amber check` names
# too (exit 4, text and JSON), and the dump refuses it by the same name; a
# --net veth container and its host link are dumpable (exit 0). With the
# net namespace declared external nothing of it is scanned.
. "$E2E_LIB"

command -v ip >/dev/null || e2e_skip "ip (iproute2) is not installed"

n=$(e2e_name br)
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
"$AMBER" exec "$n" -- ip link add amber-br0 type bridge
want="net namespace: link amber-br0 (bridge, index"
run_cmd "$AMBER" check "$n"
assert_eq 4 "$STATUS" "check of a container with a bridge ($OUT $ERR)"
assert_contains "$OUT" "sealed: nothing the container uses is used outside it" "sealed"
assert_contains "$OUT" "$want" "check names the bridge"
run_cmd "$AMBER" check "$n" --json
printf '%s' "$OUT" | jq -e --arg w "$want" 'any(.unsupported[]; contains($w))' >/dev/null ||
  fail "check --json does not list the bridge: $OUT"
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_eq 4 "$STATUS" "dump of a container with a bridge"
assert_contains "$ERR" "$want" "the dump names the same"
assert_held_nothing "$n"
"$AMBER" exec "$n" -- ip link del amber-br0
run_cmd "$AMBER" check "$n"
assert_eq 0 "$STATUS" "check once the bridge is gone ($OUT $ERR)"

m=$(e2e_name veth)
"$AMBER" run --net veth --name "$m" -- sleep 1000 >/dev/null
run_cmd "$AMBER" check "$m"
assert_eq 0 "$STATUS" "check of a --net veth container ($OUT $ERR)"
