# A python3 process holding a large dict (about 200 MB for 400,000 entries
# of 448 bytes). It prints its checksum once built ("READY N SUM"), then on
# every SIGUSR1 walks the whole dict again and prints "OK N SUM" if the sum
# is unchanged, "FAIL N SUM" if not.
import hashlib
import signal
import sys

n = int(sys.argv[1])
d = {}
for i in range(n):
    d["k%d" % i] = hashlib.sha512(b"%d" % i).digest() * 7


def checksum():
    h = hashlib.sha256()
    for k, v in d.items():
        h.update(k.encode())
        h.update(v)
    return h.hexdigest()


c0 = checksum()
print("READY", len(d), c0, flush=True)
asked = False


def on_usr1(signum, frame):
    global asked
    asked = True


signal.signal(signal.SIGUSR1, on_usr1)
while True:
    signal.pause()
    if asked:
        asked = False
        c = checksum()
        print("OK" if c == c0 else "FAIL", len(d), c, flush=True)
