// eventfd: its counter and EFD_SEMAPHORE (fdinfo eventfd-count, in hex, and
// eventfd-semaphore; eventfd-id is the kernel's ida number, not state).
// Restore creates it at 0 and writes the count: eventfd()'s initial value
// is only an unsigned int, the counter goes up to 2^64 - 2.
#include <sys/eventfd.h>
#include <unistd.h>

#include "kinds/files/fd_kinds.h"
#include "kinds/files/fdinfo_fields.h"

namespace amber::kinds::files {

bool is_eventfd(const FdProbe& p) { return p.link == "anon_inode:[eventfd]"; }

Result<img::EventfdState> parse_eventfd(const sys::FdInfo& info) {
  img::EventfdState s;
  s.set_count(TRY(fdinfo_number<uint64_t>(info, "eventfd-count", 16)));
  s.set_semaphore(TRY(fdinfo_number<int>(info, "eventfd-semaphore")) != 0);
  if (s.count() == UINT64_MAX) return bad_input("eventfd-count {:#x}: beyond the counter's maximum", s.count());
  return s;
}

Status dump_eventfd(const FdProbe& p, const FdDumpContext&, img::Fd& out) {
  out.set_kind(img::FD_EVENTFD);
  *out.mutable_eventfd() = TRY_CTX(parse_eventfd(p.info), "{}", p.link);
  out.set_pos(0);
  return {};
}

Result<UniqueFd> open_eventfd(const img::Fd& fd, const OpenContext&) {
  const img::EventfdState& s = fd.eventfd();
  if (s.count() == UINT64_MAX) return bad_input("eventfd count {:#x}: beyond the counter's maximum", s.count());
  int raw = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | (s.semaphore() ? EFD_SEMAPHORE : 0));
  if (raw < 0) return sys_fail("eventfd");
  UniqueFd e(raw);
  if (s.count() != 0) {
    const uint64_t count = s.count();
    if (::write(e.get(), &count, sizeof count) != sizeof count) return sys_fail("eventfd: write count {}", count);
  }
  TRY_CTX(set_status_flags(e.get(), fd.flags()), "eventfd");
  return e;
}

Status verify_eventfd(const FdProbe& now, const img::Fd& fd) {
  img::EventfdState s = TRY_CTX(parse_eventfd(now.info), "eventfd");
  if (s.count() != fd.eventfd().count())
    return failf("eventfd count {}, the image has {}", s.count(), fd.eventfd().count());
  if (s.semaphore() != fd.eventfd().semaphore())
    return failf("eventfd EFD_SEMAPHORE {}, the image has {}", s.semaphore(),
                 fd.eventfd().semaphore());
  return {};
}

}  // namespace amber::kinds::files
