// pidfd and kcmp: thin wrappers returning Result. No logging, no policy.
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::sys {

// pidfd of a process (flags 0) or, with PIDFD_THREAD (6.9+), of a thread.
// The fd is close-on-exec.
Result<UniqueFd> pidfd_open(pid_t pid, unsigned flags = 0);
// A duplicate of `targetfd` of the process behind `pidfd` (needs ptrace
// access to it). The new fd is close-on-exec.
Result<UniqueFd> pidfd_getfd(int pidfd, int targetfd);
// Sends `sig` (no siginfo) to the process behind `pidfd`. sig 0 checks that
// the process is still there (ESRCH once it has exited, even unreaped).
Status pidfd_send_signal(int pidfd, int sig, unsigned flags = 0);

// The KCMP_* types of <linux/kcmp.h>.
enum class KcmpType : int {
  File = 0,     // idx1/idx2: fds in pid1/pid2
  Vm = 1,       // address space
  Files = 2,    // fd table
  Fs = 3,       // root/cwd/umask
  Sighand = 4,  // signal handlers
  Io = 5,       // io context
  Sysvsem = 6,  // SysV semaphore undo list
  EpollTfd = 7, // use kcmp_epoll_tfd()
};
const char* kcmp_type_name(KcmpType type);

// Compares a kernel object of two processes: 0 same object, 1 or 2 an
// ordering of different objects (pid1's sorts lower / higher), error on -1
// (EBADF for a closed fd, ESRCH for a gone pid, ...).
Result<int> kcmp(pid_t pid1, pid_t pid2, KcmpType type, unsigned long idx1 = 0, unsigned long idx2 = 0);
// KCMP_EPOLL_TFD: is fd `fd1` of pid1 the file registered as target fd `tfd2`
// (at offset `toff2` among same-numbered entries) in epoll `epfd2` of pid2?
Result<int> kcmp_epoll_tfd(pid_t pid1, pid_t pid2, int fd1, int epfd2, int tfd2, uint32_t toff2 = 0);

}  // namespace amber::sys
