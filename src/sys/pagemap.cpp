#include "sys/pagemap.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "base/files.h"

namespace amber::sys {
namespace {

// include/uapi/linux/fs.h (6.7+)
struct pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct page_region {
  uint64_t start, end, categories;
};
constexpr unsigned long kPagemapScan = _IOWR('f', 16, struct pm_scan_arg);

}  // namespace

PageFilter dumpable_pages_filter(bool anon_only) {
  PageFilter f;
  // The zero page reads as zeros: a hole restores to the same thing.
  f.inverted = kPagePfnZero | (anon_only ? kPageFile : 0);
  f.required = kPagePfnZero | (anon_only ? kPageFile : 0);
  f.anyof = kPagePresent | kPageSwapped;
  f.returned = kPagePresent | kPageSwapped | kPageFile | kPageHuge | kPagePfnZero;
  return f;
}

Result<Pagemap> Pagemap::open(pid_t pid) {
  UniqueFd fd = TRY(open_fd(fmt::format("/proc/{}/pagemap", pid), O_RDONLY));
  return Pagemap(std::move(fd), pid);
}

Result<std::vector<PageRun>> Pagemap::scan(uint64_t start, uint64_t end, const PageFilter& filter) const {
  std::vector<PageRun> out;
  std::vector<page_region> vec(4096);
  uint64_t pos = start;
  while (pos < end) {
    pm_scan_arg a{};
    a.size = sizeof a;
    a.start = pos;
    a.end = end;
    a.vec = reinterpret_cast<uint64_t>(vec.data());
    a.vec_len = vec.size();
    a.category_inverted = filter.inverted;
    a.category_mask = filter.required;
    a.category_anyof_mask = filter.anyof;
    a.return_mask = filter.returned;
    long n = ::ioctl(fd_.get(), kPagemapScan, &a);
    if (n < 0) return sys_fail("PAGEMAP_SCAN pid {} {:#x}-{:#x}", pid_, pos, end);
    for (long i = 0; i < n; i++) {
      const page_region& r = vec[static_cast<size_t>(i)];
      if (!out.empty() && out.back().end == r.start && out.back().categories == r.categories)
        out.back().end = r.end;
      else
        out.push_back({r.start, r.end, r.categories});
    }
    // The kernel stops early when the vector is full; walk_end says where.
    if (a.walk_end <= pos) break;
    pos = a.walk_end;
  }
  return out;
}

Result<std::vector<uint64_t>> Pagemap::entries(uint64_t start, uint64_t end) const {
  std::vector<uint64_t> out((end - start) / 4096);
  auto* p = reinterpret_cast<char*>(out.data());
  const size_t bytes = out.size() * sizeof(uint64_t);
  for (size_t done = 0; done < bytes;) {
    ssize_t n = ::pread(fd_.get(), p + done, bytes - done, static_cast<off_t>(start / 4096 * 8 + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read /proc/{}/pagemap {:#x}-{:#x}", pid_, start, end);
    if (n == 0) return failf("read /proc/{}/pagemap {:#x}-{:#x}: nothing read", pid_, start, end);
    done += static_cast<size_t>(n);
  }
  return out;
}

}  // namespace amber::sys
