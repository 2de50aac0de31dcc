// Copy-on-write sharing with the parent task: where the pages a child
// shares with its ancestors are stored (kinds/mm_cow.h).
#include "kinds/mm_cow.h"

#include <algorithm>

namespace amber::kinds {

namespace {

constexpr uint64_t kPage = image::kPageSize;

Status resolve(uint64_t s, uint64_t e, std::span<const image::PageReader* const> ancestors, const ParentPieceFn& fn) {
  if (ancestors.empty())
    return bad_input("address space: corrupt: pages {:x}-{:x} are marked as the parent's, but no ancestor stores them",
                     s, e);
  const image::PageReader& store = *ancestors.front();
  const img::PagesIndex& ix = store.index();
  auto end_of = [](const img::PageRun& r) { return r.vaddr() + r.nr_pages() * kPage; };
  // The stored runs of this ancestor cover some of [s, e); the rest must be
  // in its own parent_runs (shared further up).
  auto it = std::upper_bound(ix.runs().begin(), ix.runs().end(), s,
                             [&](uint64_t v, const img::PageRun& r) { return v < end_of(r); });
  auto pit = std::upper_bound(ix.parent_runs().begin(), ix.parent_runs().end(), s,
                              [&](uint64_t v, const img::PageRun& r) { return v < end_of(r); });
  uint64_t at = s;
  while (at < e) {
    if (it != ix.runs().end() && it->vaddr() <= at) {
      const uint64_t pe = std::min(e, end_of(*it));
      TRY(fn(store, at, pe - at, it->file_offset() + (at - it->vaddr())));
      at = pe;
      ++it;
      continue;
    }
    if (pit != ix.parent_runs().end() && pit->vaddr() <= at) {
      uint64_t pe = std::min(e, end_of(*pit));
      if (it != ix.runs().end()) pe = std::min(pe, it->vaddr());
      TRY(resolve(at, pe, ancestors.subspan(1), fn));
      at = pe;
      if (at >= end_of(*pit)) ++pit;
      continue;
    }
    return bad_input("address space: corrupt: pages at {:x} are marked as the parent's, but the parent has none there",
                     at);
  }
  return {};
}

}  // namespace

Status for_each_parent_piece(const img::PagesIndex& own, std::span<const image::PageReader* const> ancestors,
                             const ParentPieceFn& fn) {
  for (const img::PageRun& r : own.parent_runs())
    TRY(resolve(r.vaddr(), r.vaddr() + r.nr_pages() * kPage, ancestors, fn));
  return {};
}

}  // namespace amber::kinds
