# A TCP listener on 127.0.0.1:PORT and one connection to it, both ends in
# this process (for a container in a net namespace it does not own: amber
# run --net host). Each end has unread data waiting: "hello" for the
# server, "world" for the client. Prints "pair: READY"; on SIGUSR1 each end
# reads what waited, 100 exchanges run on the connection, the listener
# accepts a second connection, then "pair: OK" (exit 0) or "pair: FAIL ..."
# (exit 1).
import signal, socket, sys

def fail(what):
    print("pair: FAIL", what, flush=True)
    sys.exit(1)

def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk: fail("end of stream after %r" % data)
        data += chunk
    return data

def main():
    port = int(sys.argv[1])
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    lis = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lis.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lis.bind(("127.0.0.1", port))
    lis.listen(4)
    cli = socket.create_connection(("127.0.0.1", port), timeout=10)
    srv, _ = lis.accept()
    srv.settimeout(10)
    cli.sendall(b"hello")
    srv.sendall(b"world")
    print("pair: READY", flush=True)
    signal.sigwait({signal.SIGUSR1})
    if recv_exact(srv, 5) != b"hello": fail("the server's unread data")
    if recv_exact(cli, 5) != b"world": fail("the client's unread data")
    for i in range(100):
        msg = b"ping %03d" % i
        cli.sendall(msg)
        if recv_exact(srv, len(msg)) != msg: fail("ping %d" % i)
        srv.sendall(b"pong %03d" % i)
        if recv_exact(cli, 8) != b"pong %03d" % i: fail("pong %d" % i)
    try:
        c2 = socket.create_connection(("127.0.0.1", port), timeout=5)
        s2, _ = lis.accept()
    except OSError as e:
        fail("second connection: %s" % e)
    c2.sendall(b"x")
    if recv_exact(s2, 1) != b"x": fail("second connection's data")
    print("pair: OK", flush=True)

main()
