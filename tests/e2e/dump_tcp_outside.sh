# A TCP connection from a client on the host to a server in a --net veth
# container. amber has no network lock yet: while the container is held the
# host peer keeps sending, and the kernel would acknowledge data the dump no
# longer reads, lost after the restore. So the dump refuses the connection by
# name (exit 4), leaves the container running as before, and the connection
# carries on. Host-side traffic goes only to the container's address.
. "$E2E_LIB"
command -v ip >/dev/null || e2e_skip "ip (iproute2) is not installed"
command -v python3 >/dev/null || e2e_skip "python3 is not installed"

cat >"$E2E_BIN/echo_server.py" <<'PY'
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7778)); s.listen(1)
c, _ = s.accept()
while True:
    d = c.recv(64)
    if not d:
        break
    c.sendall(d.upper())
PY
n=$(e2e_name o)
"$AMBER" run --name "$n" --net veth -- python3 "$E2E_BIN/echo_server.py" >/dev/null
addr=$("$AMBER" exec "$n" -- ip -o -4 addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1)
[ -n "$addr" ] || fail "no address on the container's eth0"

# The host client: one connection, a line before the dump, one after it.
mkfifo "$E2E_TMP/go"
python3 - "$addr" "$E2E_TMP/go" >"$E2E_TMP/client.out" 2>&1 <<'PY' &
import socket, sys, time
for _ in range(50):
    try:
        c = socket.create_connection((sys.argv[1], 7778), timeout=1)
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("no connection")
c.settimeout(10)
c.sendall(b"before"); print(c.recv(64).decode(), flush=True)
open(sys.argv[2]).read()  # the test says when the dump is over
c.sendall(b"after"); print(c.recv(64).decode(), flush=True)
PY
client=$!
wait_until 15 grep -q BEFORE "$E2E_TMP/client.out"
pid=$(init_pid "$n")
before=$(task_snapshot "$n" "$pid")
run_cmd "$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_eq 4 "$STATUS" "exit status of the dump (stderr: $ERR)"
assert_contains "$ERR" "outside the container: not supported yet (no network lock" "the refusal"
assert_contains "$ERR" "connected to 10.200." "the refusal names the peer (the host side)"
[ ! -e "$E2E_TMP/img" ] || fail "a refused dump left an image"
assert_eq "$before" "$(task_snapshot "$n" "$pid")" "the container after the refused dump"
echo go >"$E2E_TMP/go"
wait "$client" || fail "the host client failed: $(cat "$E2E_TMP/client.out")"
assert_contains "$(cat "$E2E_TMP/client.out")" "AFTER" "the connection after the refused dump"
"$AMBER" kill "$n" >/dev/null
