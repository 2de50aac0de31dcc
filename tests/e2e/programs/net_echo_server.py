# Echo server for the host-client scenarios (net_*.sh), in a container:
# TCP over IPv4 on PORT, TCP over IPv6 on PORT+1, UDP over IPv4 on PORT+2,
# one single-threaded selector loop. TCP echoes every byte back and closes
# when the client has shut its side and everything was sent back; UDP
# answers "SEQ:COUNT:PAYLOAD" to "SEQ:PAYLOAD", COUNT counting every
# datagram since the start (the server's own state, kept across a
# checkpoint). Prints "echo: READY" once every socket listens.
import selectors
import socket
import sys

port = int(sys.argv[1])
sel = selectors.DefaultSelector()


def listener(family, addr, p):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, p))
    s.listen(8)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, ("listen", None))


listener(socket.AF_INET, "0.0.0.0", port)
listener(socket.AF_INET6, "::", port + 1)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", port + 2))
udp.setblocking(False)
sel.register(udp, selectors.EVENT_READ, ("udp", None))
count = 0
print("echo: READY", flush=True)


class Conn:
    def __init__(self, s):
        self.s, self.out, self.eof = s, bytearray(), False


while True:
    for key, ev in sel.select():
        kind, c = key.data
        if kind == "listen":
            s, _ = key.fileobj.accept()
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, ("tcp", Conn(s)))
        elif kind == "udp":
            data, peer = udp.recvfrom(65536)
            count += 1
            seq, _, payload = data.partition(b":")
            udp.sendto(b"%s:%d:%s" % (seq, count, payload), peer)
        else:
            if ev & selectors.EVENT_READ and not c.eof:
                d = c.s.recv(65536)
                if d:
                    c.out += d
                else:
                    c.eof = True
            if c.out and ev & selectors.EVENT_WRITE:
                n = c.s.send(c.out)
                del c.out[:n]
            if c.eof and not c.out:
                sel.unregister(c.s)
                c.s.close()
                continue
            # Reads stop while 4 MiB wait to go back: the client's window closes.
            want = (selectors.EVENT_READ if not c.eof and len(c.out) < (4 << 20) else 0) | (
                selectors.EVENT_WRITE if c.out else 0)
            sel.modify(c.s, want, key.data)
