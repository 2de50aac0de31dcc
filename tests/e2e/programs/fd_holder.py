# An outside task holding a copy of a container's fd: pidfd_getfd(PID, FD),
# writes "held" to READY, then sleeps until killed.
import ctypes
import os
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(int(sys.argv[1]))
fd = libc.syscall(438, pidfd, int(sys.argv[2]), 0)  # pidfd_getfd
if fd < 0:
    sys.exit("pidfd_getfd: errno %d" % ctypes.get_errno())
with open(sys.argv[3], "w") as f:
    f.write("held\n")
time.sleep(300)
