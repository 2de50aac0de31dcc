# A PostgreSQL client speaking the frontend/backend protocol 3.0 (simple
# query only, trust authentication) over one TCP connection, held open
# across a checkpoint of the server's container:
#   pg_client.py HOST PORT GO ROWS
# connects, notes its backend's pid, creates a table and writes ROWS rows,
# prints "pg_client: READY", then sends nothing until a line can be read
# from the file GO (the test writes it once the restore is over: until
# amber has a network lock, a segment sent while the container is gone
# would be answered by a RST from the restored namespace). On the same
# connection it then checks the backend pid, reads every row back, writes
# ROWS more and reads them, and prints "pg_client: OK" or exits non-zero
# with the reason.
import socket
import struct
import sys


class Pg:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=20)
        params = b"user\0postgres\0database\0postgres\0\0"
        body = struct.pack("!I", 196608) + params
        self.s.sendall(struct.pack("!I", len(body) + 4) + body)
        self.buf = b""
        while True:
            t, m = self.message()
            if t == b"R" and struct.unpack("!I", m[:4])[0] != 0:
                sys.exit("pg_client: the server asks for a password (pg_hba.conf is not trust)")
            if t == b"E":
                sys.exit("pg_client: startup refused: " + self.error_text(m))
            if t == b"Z":
                break

    def read(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                sys.exit("pg_client: the server closed the connection")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def message(self):
        t = self.read(1)
        (n,) = struct.unpack("!I", self.read(4))
        return t, self.read(n - 4)

    @staticmethod
    def error_text(m):
        return " ".join(f[1:].decode(errors="replace") for f in m.split(b"\0") if f[:1] in (b"S", b"M"))

    # Rows of the last result of SQL, each a list of text fields.
    def query(self, sql):
        body = sql.encode() + b"\0"
        self.s.sendall(b"Q" + struct.pack("!I", len(body) + 4) + body)
        rows, error = [], None
        while True:
            t, m = self.message()
            if t == b"T":
                rows = []
            elif t == b"D":
                (nf,) = struct.unpack("!H", m[:2])
                pos, row = 2, []
                for _ in range(nf):
                    (ln,) = struct.unpack("!i", m[pos:pos + 4])
                    pos += 4
                    row.append(None if ln < 0 else m[pos:pos + ln].decode())
                    pos += max(ln, 0)
                rows.append(row)
            elif t == b"E":
                error = self.error_text(m)
            elif t == b"Z":
                if error:
                    sys.exit(f"pg_client: {sql!r}: {error}")
                return rows


def check_rows(pg, n, what):
    got = pg.query("SELECT count(*), coalesce(sum(k), 0), count(DISTINCT v) FROM amber_t")[0]
    want = [str(n), str(n * (n + 1) // 2), str(n)]
    if got != want:
        sys.exit(f"pg_client: {what}: count, sum, distinct values {got}, expected {want}")
    bad = pg.query("SELECT count(*) FROM amber_t WHERE v <> 'row-' || k")[0][0]
    if bad != "0":
        sys.exit(f"pg_client: {what}: {bad} rows with a wrong value")


def main():
    host, port, go, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    pg = Pg(host, port)
    backend = pg.query("SELECT pg_backend_pid()")[0][0]
    pg.query("CREATE TABLE amber_t (k int PRIMARY KEY, v text)")
    pg.query(f"INSERT INTO amber_t SELECT i, 'row-' || i FROM generate_series(1, {rows}) i")
    check_rows(pg, rows, "before the dump")
    print(f"pg_client: READY backend {backend}", flush=True)
    with open(go) as f:
        f.readline()
    pg.s.settimeout(30)
    after = pg.query("SELECT pg_backend_pid()")[0][0]
    if after != backend:
        sys.exit(f"pg_client: backend pid {after} after the restore, {backend} before")
    check_rows(pg, rows, "after the restore")
    pg.query(f"INSERT INTO amber_t SELECT i, 'row-' || i FROM generate_series({rows + 1}, {2 * rows}) i")
    check_rows(pg, 2 * rows, "after writing more")
    print("pg_client: OK", flush=True)


main()
