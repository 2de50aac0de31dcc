#include "sys/pidfd.h"

#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace amber::sys {

// The enum mirrors the kernel's numbering; a drift would compare the wrong objects.
static_assert(static_cast<int>(KcmpType::File) == KCMP_FILE);
static_assert(static_cast<int>(KcmpType::Vm) == KCMP_VM);
static_assert(static_cast<int>(KcmpType::Files) == KCMP_FILES);
static_assert(static_cast<int>(KcmpType::Fs) == KCMP_FS);
static_assert(static_cast<int>(KcmpType::Sighand) == KCMP_SIGHAND);
static_assert(static_cast<int>(KcmpType::Io) == KCMP_IO);
static_assert(static_cast<int>(KcmpType::Sysvsem) == KCMP_SYSVSEM);
static_assert(static_cast<int>(KcmpType::EpollTfd) == KCMP_EPOLL_TFD);

Result<UniqueFd> pidfd_open(pid_t pid, unsigned flags) {
  long fd = ::syscall(SYS_pidfd_open, pid, flags);
  if (fd < 0) return sys_fail("pidfd_open {}", pid);
  return UniqueFd(static_cast<int>(fd));
}

Result<UniqueFd> pidfd_getfd(int pidfd, int targetfd) {
  long fd = ::syscall(SYS_pidfd_getfd, pidfd, targetfd, 0u);
  if (fd < 0) return sys_fail("pidfd_getfd fd {}", targetfd);
  return UniqueFd(static_cast<int>(fd));
}

Status pidfd_send_signal(int pidfd, int sig, unsigned flags) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, flags) != 0)
    return sys_fail("pidfd_send_signal {}", sig);
  return {};
}

const char* kcmp_type_name(KcmpType type) {
  switch (type) {
    case KcmpType::File: return "KCMP_FILE";
    case KcmpType::Vm: return "KCMP_VM";
    case KcmpType::Files: return "KCMP_FILES";
    case KcmpType::Fs: return "KCMP_FS";
    case KcmpType::Sighand: return "KCMP_SIGHAND";
    case KcmpType::Io: return "KCMP_IO";
    case KcmpType::Sysvsem: return "KCMP_SYSVSEM";
    case KcmpType::EpollTfd: return "KCMP_EPOLL_TFD";
  }
  return "KCMP_?";
}

Result<int> kcmp(pid_t pid1, pid_t pid2, KcmpType type, unsigned long idx1, unsigned long idx2) {
  long r = ::syscall(SYS_kcmp, pid1, pid2, static_cast<int>(type), idx1, idx2);
  if (r < 0) return sys_fail("kcmp {} {} {} {} {}", kcmp_type_name(type), pid1, pid2, idx1, idx2);
  return static_cast<int>(r);
}

Result<int> kcmp_epoll_tfd(pid_t pid1, pid_t pid2, int fd1, int epfd2, int tfd2, uint32_t toff2) {
  kcmp_epoll_slot slot{};
  slot.efd = static_cast<uint32_t>(epfd2);
  slot.tfd = static_cast<uint32_t>(tfd2);
  slot.toff = toff2;
  long r = ::syscall(SYS_kcmp, pid1, pid2, KCMP_EPOLL_TFD, static_cast<unsigned long>(fd1),
                     reinterpret_cast<unsigned long>(&slot));
  if (r < 0) return sys_fail("kcmp KCMP_EPOLL_TFD {} {} fd {} epoll {} tfd {}", pid1, pid2, fd1, epfd2, tfd2);
  return static_cast<int>(r);
}

}  // namespace amber::sys
