// PAGEMAP_SCAN (Linux 6.7+): which pages of a range are present, swapped,
// file-backed, the shared zero page, or written since write-protect. Debian 12's
// kernel headers predate it, so the ABI is declared here.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::sys {

enum PageCategory : uint64_t {
  kPageWpAllowed = 1 << 0,
  kPageWritten = 1 << 1,
  kPageFile = 1 << 2,
  kPagePresent = 1 << 3,
  kPageSwapped = 1 << 4,
  kPagePfnZero = 1 << 5,
  kPageHuge = 1 << 6,
  kPageSoftDirty = 1 << 7,
  kPageGuard = 1 << 8,
};

// A run of pages [start, end) that share `categories` (masked by the return mask).
struct PageRun {
  uint64_t start = 0, end = 0, categories = 0;
};

struct PageFilter {
  uint64_t inverted = 0;  // categories whose sense is inverted before matching
  uint64_t required = 0;  // all of these (after inversion)
  uint64_t anyof = 0;     // at least one of these
  uint64_t returned = 0;  // categories reported in PageRun::categories
};

// Pages a process holds in memory or swap, skipping the zero page and holes:
// what a dump must copy. With `anon_only`, file-backed pages (page cache of a
// private file mapping not yet written to) are skipped too.
PageFilter dumpable_pages_filter(bool anon_only);

inline constexpr uint64_t kPmPresent = uint64_t{1} << 63;
inline constexpr uint64_t kPmPfnMask = (uint64_t{1} << 55) - 1;
// The PFN of a present page, 0 if it is not present or the PFN is hidden.
inline uint64_t pm_pfn(uint64_t e) { return (e & kPmPresent) ? (e & kPmPfnMask) : 0; }

class Pagemap {
 public:
  static Result<Pagemap> open(pid_t pid);
  // All runs in [start, end) matching `filter`, merged when adjacent with equal categories.
  Result<std::vector<PageRun>> scan(uint64_t start, uint64_t end, const PageFilter& filter) const;
  // The raw 64-bit pagemap entries of [start, end), one per page, in big
  // pread()s. Bit 63: present; bits 0-54: the PFN, which the kernel shows
  // to CAP_SYS_ADMIN only (0 otherwise).
  Result<std::vector<uint64_t>> entries(uint64_t start, uint64_t end) const;

 private:
  explicit Pagemap(UniqueFd fd, pid_t pid) : fd_(std::move(fd)), pid_(pid) {}
  UniqueFd fd_;
  pid_t pid_ = 0;
};

}  // namespace amber::sys
