# A memcached client (text protocol) holding one TCP connection to the
# server across a checkpoint of the server's container:
#   mc_client.py HOST PORT GO KEYS PREFIX
# stores KEYS keys (named PREFIX0, PREFIX1, ...), reads them back, prints "mc_client: READY", then sends
# nothing until a line can be read from the file GO (the test writes it
# once the restore is over: until amber has a network lock, a segment sent
# while the container is gone would be answered by a RST from the restored
# namespace). On the same connection it then reads every key back, checks
# that it is the same server (its pid, an uptime not smaller), writes KEYS
# more keys and an incr, and prints "mc_client: OK" or exits non-zero with
# the reason.
import socket
import sys


class Mc:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=20)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                sys.exit("mc_client: the server closed the connection")
            self.buf += d
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out.decode()

    def exact(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                sys.exit("mc_client: the server closed the connection")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def set_many(self, first, last):
        # Pipelined: every set is sent, then every reply read.
        out = b"".join(f"set {P}{i} {i} 0 {len(value(i))}\r\n".encode() + value(i) + b"\r\n"
                       for i in range(first, last))
        self.s.sendall(out)
        for i in range(first, last):
            if (r := self.line()) != "STORED":
                sys.exit(f"mc_client: set {P}{i}: {r}")

    def get_many(self, first, last, what):
        for lo in range(first, last, 100):
            hi = min(last, lo + 100)
            self.s.sendall(("get " + " ".join(f"{P}{i}" for i in range(lo, hi)) + "\r\n").encode())
            for i in range(lo, hi):
                head = self.line().split()
                if head[:3] != ["VALUE", f"{P}{i}", str(i)]:
                    sys.exit(f"mc_client: {what}: get {P}{i}: {' '.join(head)}")
                data = self.exact(int(head[3]) + 2)[:-2]
                if data != value(i):
                    sys.exit(f"mc_client: {what}: {P}{i} holds {data[:40]!r}")
            if (r := self.line()) != "END":
                sys.exit(f"mc_client: {what}: {r} after the values")

    def stats(self):
        self.s.sendall(b"stats\r\n")
        out = {}
        while (ln := self.line()) != "END":
            _, k, v = ln.split(" ", 2)
            out[k] = v
        return out


P = "k"  # the key prefix


def value(i):
    return (f"value-{i}-" * (1 + i % 37)).encode()


def main():
    global P
    host, port, go, keys, P = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    mc = Mc(host, port)
    mc.set_many(0, keys)
    mc.get_many(0, keys, "before the dump")
    before = mc.stats()
    print(f"mc_client: READY pid {before['pid']}", flush=True)
    with open(go) as f:
        f.readline()
    mc.s.settimeout(30)
    mc.get_many(0, keys, "after the restore")
    after = mc.stats()
    if after["pid"] != before["pid"] or int(after["uptime"]) < int(before["uptime"]):
        sys.exit(f"mc_client: pid {after['pid']} uptime {after['uptime']} after the restore, "
                 f"pid {before['pid']} uptime {before['uptime']} before")
    mc.set_many(keys, 2 * keys)
    mc.get_many(0, 2 * keys, "after writing more")
    mc.s.sendall(f"set {P}n 0 0 1\r\n7\r\nincr {P}n 5\r\n".encode())
    if (r := (mc.line(), mc.line())) != ("STORED", "12"):
        sys.exit(f"mc_client: set and incr: {r}")
    print("mc_client: OK", flush=True)


main()
