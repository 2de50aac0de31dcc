# A host client of net_echo_server.py's TCP echo holding one connection:
# on each SIGUSR1 it sends "ping N" and reads the echo back (within 30 s),
# then writes N to STATUSFILE; between pings the connection is idle. Any
# error or wrong echo: "ping: FAIL ..." and exit 1.
#   net_ping_client.py ADDR PORT STATUSFILE
import os
import signal
import sys

import net_client

addr, port, status = sys.argv[1], int(sys.argv[2]), sys.argv[3]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})


def fail(msg):
    print("ping: " + msg, flush=True)
    sys.exit(1)


s = net_client.connect(addr, port, fail)
s.settimeout(30)
n = 0
while True:
    with open(status + ".tmp", "w") as f:
        f.write("%d\n" % n)
    os.replace(status + ".tmp", status)
    signal.sigwait({signal.SIGUSR1})
    n += 1
    msg = b"ping %d\n" % n
    try:
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            d = s.recv(len(msg) - len(got))
            if not d:
                raise OSError("the server closed the connection")
            got += d
    except OSError as e:
        fail("FAIL ping %d: %s" % (n, e))
    if got != msg:
        fail("FAIL ping %d came back as %r" % (n, got))
