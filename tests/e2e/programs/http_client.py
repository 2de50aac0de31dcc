# An HTTP/1.1 client holding keep-alive connections to a server across a
# checkpoint of the server's container:
#   http_client.py HOST PORT GO SMALL BIG
# SMALL and BIG are paths of files the server serves (host paths, to compare
# the bodies with), BIG many times larger than the socket buffers.
# Connection A asks for SMALL once and then idles on its keep-alive;
# connection B asks for BIG and reads only its first 256 KiB, so the rest
# waits in the server's socket and in its sendfile position. Then it prints
# "http_client: READY" and sends and reads nothing until a line can be read
# from GO (the test writes it once the restore is over: until amber has a
# network lock, a segment sent while the container is gone would be
# answered by a RST from the restored namespace). Then B reads the rest of
# BIG, and both ask for SMALL again on the same connections (the server
# must not have closed them); every body is compared with the file. Prints
# "http_client: OK" or exits non-zero with the reason.
import os
import socket
import sys


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=20)
        self.buf = b""
        self.host = host

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            sys.exit("http_client: the server closed a keep-alive connection")
        self.buf += d

    def ask(self, path):
        self.s.sendall(f"GET /{path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())

    # The status line and headers of the next response; its body length.
    def head(self, path):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        if not lines[0].startswith("HTTP/1.1 200"):
            sys.exit(f"http_client: /{path}: {lines[0]}")
        fields = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        if fields.get("connection", "").lower() == "close":
            sys.exit(f"http_client: /{path}: the server closes the connection")
        return int(fields["content-length"])

    def body(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def expect(got, path, what):
    with open(path, "rb") as f:
        want = f.read()
    if got != want:
        sys.exit(f"http_client: {what}: {len(got)} bytes differ from {path} ({len(want)} bytes)")


def main():
    host, port, go, small, big = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    a, b = Conn(host, port), Conn(host, port)
    a.ask(os.path.basename(small))
    expect(a.body(a.head("small")), small, "small before the dump")
    b.ask(os.path.basename(big))
    n = b.head("big")
    first = b.body(256 * 1024)
    print(f"http_client: READY ({len(first)} of {n} bytes of the big file read)", flush=True)
    with open(go) as f:
        f.readline()
    for c in (a, b):
        c.s.settimeout(30)
    expect(first + b.body(n - len(first)), big, "big across the restore")
    for name, c in (("A", a), ("B", b)):
        c.ask(os.path.basename(small))
        expect(c.body(c.head("small")), small, f"small again on connection {name}")
    print("http_client: OK", flush=True)


main()
