# What the host-client programs (net_*_client.py) share.
import socket
import time


def connect(addr, port, fail, seconds=10):
    """One TCP connection to ADDR PORT, tried again for SECONDS while the
    server is not up yet; else fail(message), which does not return."""
    deadline = time.time() + seconds
    while True:
        try:
            return socket.create_connection((addr, port), timeout=1)
        except OSError as e:
            if time.time() > deadline:
                fail("FAIL no connection: %s" % e)
            time.sleep(0.1)
