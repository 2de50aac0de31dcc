#include "sys/uffd.h"

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#include <cerrno>

namespace amber::sys {

Result<Userfaultfd> Userfaultfd::adopt(UniqueFd fd) {
  uffdio_api api{};
  api.api = UFFD_API;
  if (::ioctl(fd.get(), UFFDIO_API, &api) != 0) return sys_fail("userfaultfd: UFFDIO_API");
  return Userfaultfd(std::move(fd));
}

Status Userfaultfd::register_missing(uint64_t start, uint64_t len) const {
  uffdio_register r{};
  r.range = {start, len};
  r.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (::ioctl(fd_.get(), UFFDIO_REGISTER, &r) != 0) return sys_fail("userfaultfd: register {:x}-{:x}", start, start + len);
  return {};
}

Status Userfaultfd::unregister(uint64_t start, uint64_t len) const {
  uffdio_range r{start, len};
  if (::ioctl(fd_.get(), UFFDIO_UNREGISTER, &r) != 0)
    return sys_fail("userfaultfd: unregister {:x}-{:x}", start, start + len);
  return {};
}

Status Userfaultfd::copy(uint64_t dst, const void* src, uint64_t len) const {
  auto from = reinterpret_cast<uint64_t>(src);
  for (int stalled = 0; len > 0;) {
    uffdio_copy c{};
    c.dst = dst;
    c.src = from;
    c.len = len;
    c.mode = UFFDIO_COPY_MODE_DONTWAKE;
    int rc = ::ioctl(fd_.get(), UFFDIO_COPY, &c);
    // A partial copy (EAGAIN: the layout changed under it, or a signal)
    // reports what it did in c.copy; the rest is tried again.
    if (rc != 0 && errno != EAGAIN && errno != EINTR) return sys_fail("userfaultfd: copy to {:x}-{:x}", dst, dst + len);
    uint64_t done = c.copy > 0 ? static_cast<uint64_t>(c.copy) : 0;
    if (rc == 0 && done == 0) done = len;
    if (done == 0 && ++stalled == 1000) return failf("userfaultfd: copy to {:x}: no progress", dst);
    dst += done;
    from += done;
    len -= done;
  }
  return {};
}

}  // namespace amber::sys
