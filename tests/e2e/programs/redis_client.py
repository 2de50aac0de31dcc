# A redis client on one TCP connection kept across a checkpoint: stores N
# keys (pipelined), prints "redis: READY", and on SIGUSR1 reads every key
# back on the same connection and writes more: "redis: OK" or "redis: FAIL".
#   redis_client.py N [HOST]   (HOST: the server's address, 127.0.0.1 if not given)
import signal
import socket
import sys
import time

n = int(sys.argv[1])
host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
for _ in range(200):
    try:
        s = socket.create_connection((host, 6379))
        break
    except OSError:
        time.sleep(0.05)
else:
    print("redis: FAIL no server", flush=True)
    sys.exit(1)
f = s.makefile("rb")


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def reply():
    line = f.readline()
    if line[:1] == b"$":
        ln = int(line[1:])
        if ln < 0:
            return None
        data = f.read(ln + 2)
        return data[:-2]
    return line.rstrip(b"\r\n")


def pipeline(cmds):
    s.sendall(b"".join(cmds))
    return [reply() for _ in cmds]


if any(r != b"+OK" for r in pipeline([cmd("SET", "key:%d" % i, "value-%d" % (i * 7)) for i in range(n)])):
    print("redis: FAIL set", flush=True)
    sys.exit(1)
print("redis: READY", flush=True)
signal.sigwait({signal.SIGUSR1})
got = pipeline([cmd("GET", "key:%d" % i) for i in range(n)])
bad = [i for i, v in enumerate(got) if v != b"value-%d" % (i * 7)]
if bad:
    print("redis: FAIL %d keys wrong, first key:%d" % (len(bad), bad[0]), flush=True)
    sys.exit(1)
if pipeline([cmd("SET", "after", "restore"), cmd("GET", "after"), cmd("DBSIZE")]) != [b"+OK", b"restore", b":%d" % (n + 1)]:
    print("redis: FAIL after", flush=True)
    sys.exit(1)
print("redis: OK", flush=True)
