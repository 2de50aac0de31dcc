# A socketserver.UnixStreamServer on /tmp/chat.sock (a forked child) and a
# client mid-conversation: one request answered, one answer left unread in
# the client's socket. Prints "chat: READY"; on SIGUSR1 the client reads
# the waiting answer, carries on the conversation, opens a second
# connection, and prints "chat: OK" (exit 0) or "chat: FAIL ..." (exit 1).
import os, signal, socket, socketserver, sys

PATH = "/tmp/chat/chat.sock"

class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        n = 0
        for line in self.rfile:
            n += 1
            self.wfile.write(b"%d:%s" % (n, line))
            self.wfile.flush()

def fail(what):
    print("chat: FAIL", what, flush=True)
    sys.exit(1)

def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    os.makedirs(os.path.dirname(PATH))
    server = socketserver.UnixStreamServer(PATH, Echo)
    pid = os.fork()
    if pid == 0:
        server.serve_forever()
        os._exit(0)
    server.socket.close()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(PATH)
    f = c.makefile("rwb")
    f.write(b"hello\n"); f.flush()
    if f.readline() != b"1:hello\n": fail("first answer")
    f.write(b"pending\n"); f.flush()
    # the answer to "pending" waits unread in c's receive queue
    while True:
        import select
        r, _, _ = select.select([c], [], [], 5)
        if r: break
    print("chat: READY", pid, flush=True)
    signal.sigwait({signal.SIGUSR1})
    if f.readline() != b"2:pending\n": fail("the answer queued at the dump")
    for i in range(3, 200):
        f.write(b"line %d\n" % i); f.flush()
        if f.readline() != b"%d:line %d\n" % (i, i): fail("answer %d" % i)
    d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    d.settimeout(5)
    try:
        d.connect(PATH)
    except OSError as e:
        fail("second connection: %s" % e)
    d.close()
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    print("chat: OK", flush=True)

main()
