# runc with amber as its checkpoint engine, a container holding TCP
# connections (issue 15: "a container holding a TCP listener,
# --tcp-established off and on"). The runc container (runc's default spec:
# its own net namespace with lo only, runc's mount layout; plus the host's
# /usr bound read-only for python3, which runc declares external as
# ext_mnt) runs programs/net_echo_server.py (TCP listeners on 0.0.0.0:7000
# and [::]:7001, UDP 7002) and, a child of it, programs/net_stream_client.py
# streaming through 127.0.0.1:7000 without a pause and checking that every
# byte comes back exactly once, in order. Both ends of the connection are
# in the container, so no packet leaves its namespace.
#  - `runc checkpoint` without --tcp-established fails with amber's refusal
#    naming both ends of the connection; the container runs on, the stream
#    never stops;
#  - `runc checkpoint --leave-running --tcp-established`: an image, and the
#    stream goes on;
#  - `runc checkpoint --tcp-established` → `runc restore --tcp-established`:
#    the stream carries on on the same connection, and the listener accepts
#    a new client (`runc exec`); at the end the client says "stream: OK".
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/runc_bundle.bash"
[ -x /usr/bin/python3 ] || e2e_skip "python3 is not installed"

ln -s "$AMBER" "$E2E_BIN/criu"
bundle="$E2E_BIN/bundle"
runc_bundle "$bundle"
rootfs="$bundle/rootfs"
cp "$(dirname "$E2E_LIB")"/programs/net_{echo_server,stream_client,client}.py "$rootfs/"
"$PY" - "$bundle/config.json" <<'PYEOF'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["args"] = ["/bin/sh", "-c",
    "/usr/bin/python3 /net_stream_client.py 127.0.0.1 7000 /status /stop >/client.out 2>&1 & "
    "exec /usr/bin/python3 /net_echo_server.py 7000 >/server.out 2>&1"]
c["process"]["env"].append("PYTHONDONTWRITEBYTECODE=1")
# python3 and its standard library from the host, read-only.
c["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr", "options": ["bind", "ro", "nosuid"]})
json.dump(c, open(path, "w"), indent=1)
PYEOF
id="${E2E_PREFIX}tcp"
pid=$(runc_start "$id" "$bundle")
criu=(runc_ --criu "$E2E_BIN/criu")
amber_errors() { grep -h 'Error: ' "$1" 2>/dev/null | sed 's/.*Error: //' | head -8; }

# progress: bytes the stream client got back ("SENT GOT" in /status).
progress() { awk '{ print $2 }' "$rootfs/status" 2>/dev/null || echo 0; }
# grows BYTES [SECONDS]: the client gets BYTES more back within SECONDS (30);
# it must not have ended meanwhile.
grows() {
  local want=$(($(progress) + $1)) deadline=$(($(date +%s) + ${2:-30}))
  until [ "$(progress)" -ge "$want" ]; do
    if grep -q "stream: " "$rootfs/client.out" 2>/dev/null; then fail "the client ended: $(cat "$rootfs/client.out")"; fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "the stream made no progress: $(progress) of $want bytes"
    sleep 0.1
  done
}
# new_client: a new connection to the listener from `runc exec`, echoed.
new_client() {
  run_cmd runc_ exec "$id" /usr/bin/python3 -c 'import socket
s = socket.create_connection(("127.0.0.1", 7000), timeout=20)
s.sendall(b"new client"); s.shutdown(socket.SHUT_WR)
got = b""
while d := s.recv(100): got += d
print(got.decode())'
  [ "$STATUS" = 0 ] || fail "a new client of the listener ($1): $STATUS $OUT $ERR"
  assert_eq "new client" "$OUT" "the echo to a new client ($1)"
}

wait_until 20 test -s "$rootfs/status"
grows $((256 << 10))
new_client "before the checkpoints"

note "checkpoint without --tcp-established: refused"
run_cmd "${criu[@]}" checkpoint --image-path "$E2E_TMP/img0" --work-path "$E2E_TMP/work0" "$id"
[ "$STATUS" != 0 ] || fail "runc checkpoint succeeded without --tcp-established"
refusal=$(amber_errors "$E2E_TMP/work0/dump.log")
note "amber said: $refusal"
# Both ends of the stream's connection, each by its task, fd and addresses.
assert_contains "$refusal" "-> 127.0.0.1:7000" "the client's end in the refusal"
assert_contains "$refusal" "TCP 127.0.0.1:7000 -> 127.0.0.1:" "the server's end in the refusal"
assert_contains "$refusal" "tcp_established" "the option that keeps them, in the refusal"
assert_contains "$ERR" "work0/dump.log" "runc names amber's log"
assert_eq running "$(runc_status "$id")" "the container after the refused checkpoint"
assert_eq "$pid" "$(runc_pid "$id")" "its init"
freezer=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$pid/cgroup")
assert_eq THAWED "$(cat "/sys/fs/cgroup/freezer$freezer/freezer.state")" "its freezer cgroup"
assert_eq 0 "$(awk '/^TracerPid/ { print $2 }' "/proc/$pid/status")" "tracer of its init"
[ ! -e "$E2E_TMP/img0/amber" ] || fail "an image was left behind"
grows $((256 << 10))

note "checkpoint --leave-running --tcp-established"
run_cmd "${criu[@]}" checkpoint --leave-running --tcp-established --image-path "$E2E_TMP/img1" \
  --work-path "$E2E_TMP/work1" "$id"
[ "$STATUS" = 0 ] || fail "runc checkpoint --leave-running --tcp-established: $ERR; amber: $(amber_errors "$E2E_TMP/work1/dump.log")"
[ -f "$E2E_TMP/img1/amber/container.img" ] || fail "no amber image in the checkpoint directory"
assert_eq running "$(runc_status "$id")" "the container after checkpoint --leave-running"
grows $((256 << 10))

note "checkpoint --tcp-established"
run_cmd "${criu[@]}" checkpoint --tcp-established --image-path "$E2E_TMP/img" --work-path "$E2E_TMP/work" "$id"
[ "$STATUS" = 0 ] || fail "runc checkpoint --tcp-established: $ERR; amber: $(amber_errors "$E2E_TMP/work/dump.log")"
wait_until 10 eval '! proc_alive "$pid"'
! runc_ state "$id" >/dev/null 2>&1 || fail "runc still knows the checkpointed container"
stopped_at=$(progress)
sleep 1
assert_eq "$stopped_at" "$(progress)" "the stream while the container is checkpointed"

note "restore --tcp-established"
run_cmd "${criu[@]}" restore -d --tcp-established --image-path "$E2E_TMP/img" --work-path "$E2E_TMP/work" \
  --bundle "$bundle" "$id"
[ "$STATUS" = 0 ] || fail "runc restore failed: $ERR; amber: $(amber_errors "$E2E_TMP/work/restore.log")"
assert_eq running "$(runc_status "$id")" "the restored container"
restored=$(runc_pid "$id")
e2e_track "$restored"
grows $((512 << 10))
new_client "after the restore"
note "stream: $stopped_at bytes back at the checkpoint, $(progress) now"

touch "$rootfs/stop"
wait_until 90 grep -q "stream: " "$rootfs/client.out"
assert_contains "$(cat "$rootfs/client.out")" "stream: OK" "the client's verdict"
note "$(cat "$rootfs/client.out")"
runc_ kill "$id" KILL
wait_until 10 eval '[ "$(runc_status "$id")" = stopped ]'
