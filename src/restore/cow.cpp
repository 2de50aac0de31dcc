// Copy-on-write sharing kept by a restore: plan, reservation, the fork
// phase's early areas, verification (restore/cow.h).
#include "restore/cow.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>

#include "kinds/mm_cow.h"
#include "kinds/mm_internal.h"
#include "restore/plan.h"
#include "sys/pagemap.h"
#include "sys/procfs.h"

namespace amber::restore {

namespace {

using kinds::mm_detail::area_label;
using kinds::mm_detail::cow_area;
constexpr uint64_t kPage = image::kPageSize;
constexpr uint64_t kHuge = uint64_t{2} << 20;

bool sharing_off() {
  const char* e = std::getenv("AMBER_NO_COW_SHARING");
  return e && *e && std::string_view(e) != "0";
}

uint64_t run_end(const img::PageRun& r) { return r.vaddr() + r.nr_pages() * kPage; }

using Runs = google::protobuf::RepeatedPtrField<img::PageRun>;

// The runs (ascending) that overlap [s, e): a range of `runs`, found by
// binary search (a fragmented heap has many thousands of runs).
std::pair<Runs::const_iterator, Runs::const_iterator> runs_in(const Runs& runs, uint64_t s, uint64_t e) {
  auto from = std::partition_point(runs.begin(), runs.end(), [&](const img::PageRun& r) { return run_end(r) <= s; });
  auto to = std::partition_point(from, runs.end(), [&](const img::PageRun& r) { return r.vaddr() < e; });
  return {from, to};
}

// Some of the task's parent_runs lie in [s, e).
bool has_parent_pages(const img::PagesIndex& ix, uint64_t s, uint64_t e) {
  auto [from, to] = runs_in(ix.parent_runs(), s, e);
  return from != to;
}

const img::VmArea* same_area(const img::Mm& mm, const img::VmArea& a) {
  for (const img::VmArea& b : mm.areas())
    if (b.start() == a.start() && b.end() == a.end() && b.prot() == a.prot() && b.flags() == a.flags() &&
        cow_area(b))
      return &b;
  return nullptr;
}

}  // namespace

void plan_cow(Plan& p) {
  p.cow = {};
  if (sharing_off()) return;
  uint64_t next = 0;
  // Parents before children (creators first): a parent's slot exists when
  // its children are planned.
  for (pid_t pid : p.tree.order) {
    auto it = p.tasks.find(pid);
    if (it == p.tasks.end() || it->second.zombie() || !it->second.pages) continue;
    TaskPlan& c = it->second;
    const pid_t ppid = c.task.ppid();
    const img::PagesIndex& ix = c.pages->index();
    if (ix.parent_runs_size() == 0) continue;
    // Only the parent that forks it can hand it its memory.
    if (ppid == 0 || p.tree.node(pid).creator != ppid) {
      p.cow.not_kept.push_back(fmt::format("task {}: not forked by its parent task {} in this restore", pid, ppid));
      continue;
    }
    auto pit = p.tasks.find(ppid);
    if (pit == p.tasks.end() || pit->second.zombie() || !pit->second.pages) continue;
    TaskPlan& par = pit->second;
    for (const img::VmArea& a : c.mm.areas()) {
      if (!has_parent_pages(ix, a.start(), a.end())) continue;
      const img::VmArea* pa = cow_area(a) ? same_area(par.mm, a) : nullptr;
      if (!pa) {
        p.cow.not_kept.push_back(fmt::format("task {}: area {} differs from its parent's", pid, area_label(a)));
        continue;
      }
      auto slot = std::find_if(par.cow_areas.begin(), par.cow_areas.end(),
                               [&](const CowArea& x) { return x.start == a.start(); });
      if (slot == par.cow_areas.end()) {
        // A new slot, congruent to the area modulo 2 MiB (huge pages stay
        // aligned when it moves), a page of gap to the previous one.
        const uint64_t off = (next + kPage + kHuge - 1) / kHuge * kHuge + a.start() % kHuge;
        next = off + (a.end() - a.start());
        par.cow_areas.push_back({a.start(), a.end(), 0, off, false, pa->flags()});
        slot = par.cow_areas.end() - 1;
      }
      c.cow_areas.push_back({a.start(), a.end(), 0, slot->offset, true, a.flags()});
    }
  }
  for (auto& [pid, t] : p.tasks)
    std::sort(t.cow_areas.begin(), t.cow_areas.end(), [](const CowArea& x, const CowArea& y) { return x.start < y.start; });
  p.cow.size = (next + kHuge - 1) / kHuge * kHuge;
}

Result<CowReservation> CowReservation::map(Plan& p) {
  if (p.cow.size == 0) return CowReservation(0, 0);
  // Free in every task's saved layout (the slots must never be in the way
  // of an area moved to its place) and in amber's own, 2 MiB aligned, a
  // margin around it.
  constexpr uint64_t kMargin = uint64_t{1} << 20;
  std::vector<std::pair<uint64_t, uint64_t>> used;
  for (const auto& [pid, t] : p.tasks)
    for (const img::VmArea& a : t.mm.areas()) used.emplace_back(a.start(), a.end());
  for (const sys::VmArea& a : TRY(sys::read_maps(::getpid()))) used.emplace_back(a.start, a.end);
  std::sort(used.begin(), used.end());
  uint64_t cand = uint64_t{1} << 32;
  for (auto [s, e] : used) {
    if (e + kMargin <= cand) continue;
    if (cand + p.cow.size + kMargin <= s) break;
    cand = std::max(cand, (e + kMargin + kHuge - 1) / kHuge * kHuge);
  }
  if (cand + p.cow.size > kinds::mm_detail::kUserTop47)
    return failf("no room for {} bytes of copy-on-write areas", p.cow.size);
  void* at = ::mmap(reinterpret_cast<void*>(cand), p.cow.size, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (at == MAP_FAILED) return sys_fail("reserve {} bytes for copy-on-write areas at {:#x}", p.cow.size, cand);
  if (reinterpret_cast<uint64_t>(at) != cand) {
    ::munmap(at, p.cow.size);
    return failf("reserve copy-on-write areas: mapped at {} instead of {:#x}", at, cand);
  }
  p.cow.base = cand;
  for (auto& [pid, t] : p.tasks)
    for (CowArea& a : t.cow_areas) a.slot = cand + a.offset;
  return CowReservation(cand, p.cow.size);
}

CowReservation::~CowReservation() {
  if (size_) ::munmap(reinterpret_cast<void*>(base_), size_);
}

std::vector<const image::PageReader*> cow_stores(const Plan& p) {
  std::set<const image::PageReader*> out;
  for (const auto& [pid, t] : p.tasks) {
    if (t.cow_areas.empty()) continue;
    out.insert(&*t.pages);
    out.insert(t.ancestors.begin(), t.ancestors.end());
  }
  return {out.begin(), out.end()};
}

namespace {

// A piece of a page store copied into the slot of `a`: chunks read and
// verified one at a time into `buf`, zero stretches left out (the slot
// reads as zeros there).
Status copy_piece(const image::PageReader& store, int fd, const CowArea& a, uint64_t vaddr, uint64_t len,
                  uint64_t off, std::byte* buf) {
  const uint64_t s0 = std::max(vaddr, a.start), e0 = std::min(vaddr + len, a.end);
  if (s0 >= e0) return {};
  off += s0 - vaddr;
  vaddr = s0;
  len = e0 - s0;
  const uint64_t total = store.index().total_size();
  for (uint64_t cs = off / image::kChunkSize * image::kChunkSize; cs < off + len; cs += image::kChunkSize) {
    const uint64_t ce = std::min(total, cs + image::kChunkSize);
    TRY(store.read_verified(cs, buf, ce - cs, fd));
    const uint64_t s = std::max(cs, off), e = std::min(ce, off + len);
    auto* dst = reinterpret_cast<std::byte*>(a.slot + (vaddr + (s - off) - a.start));
    image::for_each_nonzero(buf + (s - cs), e - s, [&](size_t o, size_t n) { std::memcpy(dst + o, buf + (s - cs) + o, n); });
  }
  return {};
}

// An inherited slot holds the parent's pages: all but the ones the task
// shares with it are dropped (they read as zeros, the task's own are
// written next).
Status drop_not_shared(const img::PagesIndex& ix, const CowArea& a) {
  auto drop = [&](uint64_t s, uint64_t e) -> Status {
    if (s >= e) return {};
    if (::madvise(reinterpret_cast<void*>(a.slot + (s - a.start)), e - s, MADV_DONTNEED) != 0)
      return sys_fail("madvise(MADV_DONTNEED) {:x}-{:x}", s, e);
    return {};
  };
  uint64_t from = a.start;
  auto [first, last] = runs_in(ix.parent_runs(), a.start, a.end);
  for (auto it = first; it != last; ++it) {
    const img::PageRun& r = *it;
    const uint64_t s = std::max(r.vaddr(), a.start), e = std::min(run_end(r), a.end);
    if (s >= e) continue;
    TRY(drop(from, s));
    from = e;
  }
  return drop(from, a.end);
}

}  // namespace

Status build_cow_areas(const Plan& p, pid_t pid, const std::map<const image::PageReader*, int>& fd_of) {
  const TaskPlan& t = p.tasks.at(pid);
  if (t.cow_areas.empty()) return {};
  void* mem = ::mmap(nullptr, image::kChunkSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return sys_fail("task {}: mmap a copy buffer", pid);
  auto* buf = static_cast<std::byte*>(mem);
  auto fd = [&](const image::PageReader& r) { return fd_of.at(&r); };
  Status st = [&]() -> Status {
    const image::PageReader& own = *t.pages;
    for (const CowArea& a : t.cow_areas) {
      const std::string label = area_label(a.start, a.end, "", "");
      const uint64_t len = a.end - a.start;
      if (a.inherited) {
        TRY_CTX(drop_not_shared(own.index(), a), "task {}: area {}", pid, label);
      } else {
        const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | ((a.flags & img::VMA_NORESERVE) ? MAP_NORESERVE : 0);
        if (::mmap(reinterpret_cast<void*>(a.slot), len, PROT_READ | PROT_WRITE, flags, -1, 0) == MAP_FAILED)
          return sys_fail("task {}: area {}: mmap at {:#x}", pid, label, a.slot);
        if (a.flags & img::VMA_HUGEPAGE) (void)::madvise(reinterpret_cast<void*>(a.slot), len, MADV_HUGEPAGE);
        if (a.flags & img::VMA_NOHUGEPAGE) (void)::madvise(reinterpret_cast<void*>(a.slot), len, MADV_NOHUGEPAGE);
        // No parent slot to inherit from: its parent's pages are copied too.
        TRY_CTX(kinds::for_each_parent_piece(own.index(), t.ancestors,
                                             [&](const image::PageReader& store, uint64_t v, uint64_t n,
                                                 uint64_t off) { return copy_piece(store, fd(store), a, v, n, off, buf); }),
                "task {}: area {}", pid, label);
      }
      auto [first, last] = runs_in(own.index().runs(), a.start, a.end);
      for (auto it = first; it != last; ++it)
        TRY_CTX(copy_piece(own, fd(own), a, it->vaddr(), it->nr_pages() * kPage, it->file_offset(), buf),
                "task {}: area {}", pid, label);
    }
    return {};
  }();
  ::munmap(mem, image::kChunkSize);
  return st;
}

Status verify_cow(const Plan& p, const std::map<pid_t, pid_t>& host_of) {
  for (const auto& [pid, t] : p.tasks) {
    if (t.cow_areas.empty()) continue;
    const pid_t ppid = t.task.ppid();
    std::optional<sys::Pagemap> mine, theirs;
    for (const CowArea& a : t.cow_areas) {
      if (!a.inherited) continue;
      if (!mine) {
        mine.emplace(TRY_CTX(sys::Pagemap::open(host_of.at(pid)), "task {}", pid));
        theirs.emplace(TRY_CTX(sys::Pagemap::open(host_of.at(ppid)), "task {}", ppid));
      }
      auto m = TRY_CTX(mine->entries(a.start, a.end), "task {}", pid);
      auto o = TRY_CTX(theirs->entries(a.start, a.end), "task {}", ppid);
      uint64_t want = 0, lost = 0, first_lost = 0;
      auto [from, to] = runs_in(t.pages->index().parent_runs(), a.start, a.end);
      for (auto it = from; it != to; ++it) {
        const uint64_t s = std::max(it->vaddr(), a.start), e = std::min(run_end(*it), a.end);
        for (uint64_t v = s; v < e; v += kPage) {
          const size_t i = (v - a.start) / kPage;
          want++;
          const uint64_t pfn = sys::pm_pfn(m[i]);
          if (pfn == 0 || pfn != sys::pm_pfn(o[i])) {
            if (lost++ == 0) first_lost = v;
          }
        }
      }
      if (lost)
        return failf("task {}: area {}: {} of the {} pages it shared copy-on-write with its parent task {} are not "
                     "shared after the restore (first at {:x})",
                     pid, area_label(a.start, a.end, "", ""), lost, want, ppid, first_lost);
    }
  }
  return {};
}

}  // namespace amber::restore
