# A host client of net_echo_server.py's UDP service: one connected socket
# sends "SEQ:PAYLOAD" requests, one at a time, each sent again every 0.2 s
# until its answer "SEQ:COUNT:PAYLOAD" comes; an answer to an older request
# is skipped, a wrong payload or a COUNT that does not grow fails, and so
# does a COUNT above the datagrams sent (one counted twice). Runs
# until STOPFILE exists (at most 200 s): "udp: OK ..." or "udp: FAIL ...".
# STATUSFILE holds the number of requests answered, rewritten as they are.
#   net_udp_client.py ADDR PORT STATUSFILE STOPFILE
import os
import socket
import sys
import time

addr, port, status, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def verdict(msg):
    print("udp: " + msg, flush=True)
    sys.exit(0 if msg.startswith("OK") else 1)


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((addr, port))
s.settimeout(0.2)
answered = resent = last_count = 0
end = time.time() + 200
seq = 0
while not os.path.exists(stop):
    if time.time() > end:
        verdict("FAIL still running after 200 s")
    seq += 1
    payload = b"request %d " % seq + b"x" * (seq % 700)
    while True:
        try:
            s.send(b"%d:%s" % (seq, payload))
            while True:  # an answer to an older request: read on
                rseq, count, rest = s.recv(65536).split(b":", 2)
                if int(rseq) == seq:
                    break
        except socket.timeout:
            resent += 1
            continue
        except OSError:  # ECONNREFUSED (an ICMP error) while the container is away
            time.sleep(0.2)
            resent += 1
            continue
        if rest != payload:
            verdict("FAIL request %d answered with another payload" % seq)
        if int(count) <= last_count:
            verdict("FAIL request %d: count %s after %d" % (seq, count.decode(), last_count))
        last_count = int(count)
        break
    answered += 1
    with open(status + ".tmp", "w") as f:
        f.write("%d\n" % answered)
    os.replace(status + ".tmp", status)
    time.sleep(0.02)
# Each datagram sent counted at most once (one queued at the dump is
# restored once), each answered one at least once.
if not answered <= last_count <= answered + resent:
    verdict("FAIL the server counted %d datagrams; %d were sent, %d answered" % (last_count, answered + resent, answered))
verdict("OK %d requests answered (%d sent again), server count %d" % (answered, resent, last_count))
