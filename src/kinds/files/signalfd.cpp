// signalfd: its signal mask (fdinfo sigmask, hex). The signals it reads are
// the reading task's pending ones, which amber restores with the task.
#include <sys/signalfd.h>

#include <sys/syscall.h>
#include <unistd.h>

#include "kinds/files/fd_kinds.h"
#include "kinds/files/fdinfo_fields.h"

namespace amber::kinds::files {

bool is_signalfd(const FdProbe& p) { return p.link == "anon_inode:[signalfd]"; }

Result<img::SignalfdState> parse_signalfd(const sys::FdInfo& info) {
  img::SignalfdState s;
  s.set_mask(TRY(fdinfo_number<uint64_t>(info, "sigmask", 16)));
  return s;
}

Status dump_signalfd(const FdProbe& p, const FdDumpContext&, img::Fd& out) {
  out.set_kind(img::FD_SIGNALFD);
  *out.mutable_signalfd() = TRY_CTX(parse_signalfd(p.info), "{}", p.link);
  out.set_pos(0);
  return {};
}

Result<UniqueFd> open_signalfd(const img::Fd& fd, const OpenContext&) {
  // The kernel's own 64-bit set through the raw call: glibc's sigaddset
  // refuses the signals it keeps for itself (32, 33), a mask may have them.
  const uint64_t mask = fd.signalfd().mask();
  int raw = static_cast<int>(::syscall(SYS_signalfd4, -1, &mask, sizeof mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (raw < 0) return sys_fail("signalfd mask {:#x}", fd.signalfd().mask());
  UniqueFd s(raw);
  TRY_CTX(set_status_flags(s.get(), fd.flags()), "signalfd");
  return s;
}

Status verify_signalfd(const FdProbe& now, const img::Fd& fd) {
  img::SignalfdState s = TRY_CTX(parse_signalfd(now.info), "signalfd");
  if (s.mask() != fd.signalfd().mask())
    return failf("signalfd mask {:#x}, the image has {:#x}", s.mask(), fd.signalfd().mask());
  return {};
}

}  // namespace amber::kinds::files
