# A host client of net_echo_server.py's TCP echo: streams bytes without a
# pause (one thread sends, the main one reads the echo back and checks it
# against the same byte sequence, so every byte must come back exactly
# once and in order) until STOPFILE exists; then it shuts its side, reads
# the rest to the end and says "stream: OK ..." or "stream: FAIL ...".
# STATUSFILE holds "SENT GOT" (bytes), rewritten every 0.1 s. No read or
# write may wait longer than 60 s.
#   net_stream_client.py ADDR PORT STATUSFILE STOPFILE
import os
import random
import socket
import sys
import threading
import time

import net_client

addr, port, status, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
PERIOD = 1_000_003  # prime: no chunk size lines up with it
pat = random.Random(14).randbytes(PERIOD)
pat2 = pat + pat  # any slice of up to PERIOD bytes without wrapping


def expected(off, n):
    out = bytearray()
    while n:
        k = min(n, PERIOD)
        out += pat2[off % PERIOD:off % PERIOD + k]
        off += k
        n -= k
    return bytes(out)


def verdict(msg):
    print("stream: " + msg, flush=True)
    os._exit(0 if msg.startswith("OK") else 1)


s = net_client.connect(addr, port, verdict)
s.settimeout(60)
sent = got = 0
stall = 0.0


def sender():
    global sent
    try:
        while not os.path.exists(stop):
            chunk = expected(sent, 4096)
            s.sendall(chunk)
            sent += len(chunk)
            # About 500 KB/s: slower than the held container's receive
            # buffer fills, so that its window is open while it is dumped
            # (what arrives then is what a missing lock would lose).
            time.sleep(0.008)
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        verdict("FAIL send at %d: %s" % (sent, e))


def reporter():
    while True:
        with open(status + ".tmp", "w") as f:
            f.write("%d %d\n" % (sent, got))
        os.replace(status + ".tmp", status)
        time.sleep(0.1)


threading.Thread(target=sender, daemon=True).start()
threading.Thread(target=reporter, daemon=True).start()
last = time.time()
while True:
    try:
        d = s.recv(262144)
    except OSError as e:
        verdict("FAIL receive at %d: %s" % (got, e))
    if not d:
        break
    now = time.time()
    stall, last = max(stall, now - last), now
    if d != expected(got, len(d)):
        verdict("FAIL the echo differs from what was sent at byte %d" % got)
    got += len(d)
if got != sent:
    verdict("FAIL %d bytes sent, %d came back" % (sent, got))
verdict("OK %d bytes each way, longest pause %.1f s" % (got, stall))
