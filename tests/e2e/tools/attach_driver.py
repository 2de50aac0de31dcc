#!/usr/bin/env python3
"""Drives `amber attach NAME` from a pty of its own (a user's terminal).

Usage: attach_driver.py AMBER NAME SCRIPT
SCRIPT lines: `send TEXT` (\\r, \\x10 ... escapes), `expect TEXT` (waits up
to 10 s for TEXT in the output seen since the last expect), `detach`
(Ctrl-P Ctrl-Q, then waits for attach to exit 0), `eof` (waits for attach
to end by itself, exit 0), `sleep SECONDS` (reading what comes meanwhile).
Exits 1 with what was seen on a failure. ATTACH_SIZE=ROWSxCOLS gives the
driver's terminal that size (amber attach forwards it to the container's).
"""
import fcntl, os, pty, select, struct, sys, termios, time

amber, name, script = sys.argv[1], sys.argv[2], sys.argv[3]
rows, _, cols = os.environ.get("ATTACH_SIZE", "").partition("x")
pid, fd = pty.fork()
if pid == 0:
    if rows:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", int(rows), int(cols), 0, 0))
    os.execv(amber, [amber, "attach", name])

seen = b""
def pump(timeout):
    global seen
    r, _, _ = select.select([fd], [], [], timeout)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        seen += data
    return True

def wait_exit():
    end = time.time() + 10
    while time.time() < end:
        pump(0.1)
        p, st = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            if os.WEXITSTATUS(st) != 0:
                sys.exit(f"attach ended with {st}; seen: {seen!r}")
            return
    sys.exit(f"attach did not end; seen: {seen!r}")

for line in open(script).read().splitlines():
    if not line.strip():
        continue
    op, _, arg = line.partition(" ")
    arg = arg.encode().decode("unicode_escape").encode("latin-1")
    if op == "send":
        time.sleep(0.2)
        os.write(fd, arg)
    elif op == "expect":
        end = time.time() + 10
        while arg not in seen and time.time() < end:
            pump(0.1)
        if arg not in seen:
            sys.exit(f"expected {arg!r}; seen: {seen!r}")
        seen = seen[seen.index(arg) + len(arg):]
    elif op == "detach":
        os.write(fd, b"\x10\x11")
        wait_exit()
    elif op == "eof":
        wait_exit()
    elif op == "sleep":
        end = time.time() + float(arg)
        while time.time() < end:
            pump(0.05)
    else:
        sys.exit(f"bad script line {line!r}")
