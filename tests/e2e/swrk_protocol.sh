# amber as a runtime's checkpoint engine, driven over CRIU's RPC protocol the
# way runc drives it (tests/e2e/swrk_client.py: a socketpair, `amber swrk N`,
# NOTIFY answered): VERSION and FEATURE_CHECK answered; PRE_DUMP, an option
# amber does not support and an unknown option field refused by name; amber
# as `criu` (a link) answers --version and check and refuses other commands;
# a counting shell dumped by its init's pid (network-lock, post-dump), the
# runtime failing a notification fails the dump and the shell counts on; then
# dumped and restored (setup-namespaces, post-restore with the init's pid)
# as the runtime's child, in the cgroup the runtime put the engine in, and
# it counts on from where it stopped.
. "$E2E_LIB"

PY=/usr/bin/python3
"$PY" -c 'import google.protobuf' 2>/dev/null || e2e_skip "python3-protobuf is not installed"
command -v protoc >/dev/null || e2e_skip "protoc is not installed"
CLIENT="$(dirname "$E2E_LIB")/swrk_client.py"
PROTO="$(dirname "$E2E_LIB")/../../proto"
rpc() { run_cmd "$PY" "$CLIENT" "$AMBER" "$PROTO" "$@"; }

note "VERSION, FEATURE_CHECK"
rpc version
assert_eq 0 "$STATUS" "VERSION ($ERR)"
assert_contains "$OUT" "version 3.17 name=amber" "VERSION reply"
assert_contains "$OUT" "engine exit 0" "the engine after VERSION"
rpc features
assert_contains "$OUT" "features mem_track=False lazy_pages=False" "FEATURE_CHECK reply"

note "refusals by name"
mkdir -p "$E2E_TMP/img0"
rpc pre-dump --images "$E2E_TMP/img0"
assert_eq 1 "$STATUS" "PRE_DUMP"
assert_contains "$OUT" "reply PRE_DUMP success=False" "PRE_DUMP reply"
assert_contains "$OUT" "no incremental pre-dumps" "PRE_DUMP refusal"
rpc dump --images "$E2E_TMP/img0" --pid 1 --opt lazy_pages=true
assert_contains "$OUT" "criu option lazy_pages (true): not supported by amber" "lazy_pages refusal"
assert_contains "$(cat "$E2E_TMP/img0/engine.log")" "Error: criu option lazy_pages" "the refusal in the log file"
rpc raw-field --images "$E2E_TMP/img0" --pid 1 --field 99
assert_contains "$OUT" "criu option field number 99: unknown to amber" "unknown field refusal"
rpc dump --images "$E2E_TMP/img0" --pid 1 --opt shell_job=true
assert_contains "$OUT" "criu option shell_job (true): not supported" "shell_job refusal"

note "amber as criu"
ln -s "$AMBER" "$E2E_BIN/criu"
assert_contains "$("$E2E_BIN/criu" --version)" "Version: 3.17" "criu --version"
assert_eq "Looks good." "$("$E2E_BIN/criu" check)" "criu check"
assert_fails 2 "'criu dump -t 1' is not supported" "$E2E_BIN/criu" dump -t 1

note "a counting shell dumped by its init's pid"
# Dumped as a foreign container, its stdio (amber's log) is a file it must
# reach by path at the restore: not under /tmp, which is its own tmpfs.
export AMBER_STATE_DIR="$E2E_BIN/state"
n=$(e2e_name c1)
count_file="$E2E_BIN/count"
"$AMBER" run --name "$n" -- sh -c "i=0; while :; do i=\$((i+1)); echo \$i >>$count_file; sleep 0.1; done" >/dev/null
pid=$(init_pid "$n")
# Appended a line per number (one write): a file truncated before each
# write could be caught empty by the dump.
count() { tail -n 1 "$count_file" 2>/dev/null | grep . || echo 0; }
wait_until 10 eval '[ "$(count)" -ge 5 ]'

# The runtime fails post-dump: the dump fails, the network is unlocked, the
# shell counts on.
mkdir "$E2E_TMP/img1"
rpc dump --images "$E2E_TMP/img1" --pid "$pid" --fail-notify post-dump
assert_eq 1 "$STATUS" "dump with a failed post-dump ($OUT)"
assert_contains "$OUT" "notify network-unlock" "network-unlock after the failure"
assert_contains "$OUT" "the runtime failed the post-dump notification" "the failure's message"
[ ! -e "$E2E_TMP/img1/amber" ] || fail "an image was left after the failed dump"
c1=$(count)
sleep 0.5
[ "$(count)" -gt "$c1" ] || fail "the shell stopped counting after the failed dump"

mkdir "$E2E_TMP/img"
rpc dump --images "$E2E_TMP/img" --pid "$pid"
assert_eq 0 "$STATUS" "DUMP ($OUT $ERR)"
assert_eq "notify network-lock 0
notify post-dump 0
reply DUMP success=True pid=0 errno=0
engine exit 0" "$OUT" "DUMP messages"
wait_until 5 eval '! proc_alive "$pid"'
stopped_at=$(count)
sleep 0.3
assert_eq "$stopped_at" "$(count)" "the count after the dump"
assert_contains "$(cat "$E2E_TMP/img/engine.log")" "dumped pid $pid" "the dump's summary in the log"

note "restored as the runtime's child, in its cgroup"
cg="$AMBER_CGROUP_ROOT/${E2E_PREFIX}runtime"
mkdir "$cg"
rpc restore --images "$E2E_TMP/img" --cgroup "$cg"
assert_eq 0 "$STATUS" "RESTORE ($OUT $ERR)"
restored=$(echo "$OUT" | awk '/^reply RESTORE/ { sub("pid=", "", $4); print $4 }')
note "restored init: $restored"
e2e_track "$restored"
assert_contains "$OUT" "notify setup-namespaces $restored
notify post-restore $restored
reply RESTORE success=True pid=$restored" "RESTORE messages"
echo "$OUT" | awk '/^restored-parent/ { sub("self=", "", $3); if ($2 != $3) exit 1 }' ||
  fail "the restored init is not the runtime's child: $(echo "$OUT" | grep restored-parent)"
grep -qx "$restored" "$cg/cgroup.procs" || fail "the restored init is not in the runtime's cgroup: $(cat "$cg/cgroup.procs")"
[ "$(sed -n 's/^NSpid:.*\t//p' "/proc/$restored/status")" = 1 ] || fail "the restored init is not pid 1 inside"
sleep 1
c2=$(count)
note "count: $stopped_at at the dump, $c2 a second after the restore"
[ "$c2" -gt "$stopped_at" ] || fail "count does not go on from $stopped_at: $c2"
# 1, 2, 3, ...: on from where it stopped, not from 1 again.
awk 'NR != $1 { exit 1 }' "$count_file" || fail "the count is not 1, 2, 3, ...: $(xargs <"$count_file")"

kill -9 "$restored"
wait_until 5 eval '[ -z "$(cat "$cg/cgroup.procs")" ]'
rmdir "$cg"
