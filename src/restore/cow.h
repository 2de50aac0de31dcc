// Copy-on-write sharing between a parent task and its children, kept by a
// restore (PagesIndex.parent_runs, kinds/mm_cow.h).
//
// A child inherits memory copy-on-write only from the parent that forks it,
// and only memory the parent has when it forks. The fork phase runs amber's
// own code, whose layout may cover the saved addresses, so an area a child
// shares with its parent is built away from them, in a slot of one
// reservation the controller maps (PROT_NONE) before the fork phase and
// every process inherits:
//   1. plan_cow: a child's private anonymous area with pages of its parent,
//      where the parent forks it and has the same area, is "inherited"; the
//      parent's area is then "built early" too. Every chain gets one slot.
//   2. fork phase, in each task before it forks (build_cow_areas): an
//      area built early but not inherited is mapped in its slot and filled
//      from the task's store; an inherited one is in the slot already (the
//      parent's pages): the pages that are not the parent's are dropped
//      (MADV_DONTNEED) and the task's own written in. Its children then
//      inherit the slot copy-on-write.
//   3. rebuild (kinds/mm_restore.cpp): the teardown keeps the slots, each is
//      moved to its saved address (mremap keeps the sharing) and not filled
//      again.
//   4. verify_cow: every page the image lists as the parent's has the
//      parent's PFN again (pagemap); a restore that does not give the
//      sharing back fails naming the task and the area.
// AMBER_NO_COW_SHARING=1 turns 1-4 off: the children then get copies of the
// pages from the ancestor's store (content right, memory not shared).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "image/pages.h"

namespace amber::restore {

struct Plan;
struct TaskPlan;

struct CowArea {
  uint64_t start = 0, end = 0;  // the saved area
  uint64_t slot = 0;            // where the fork phase builds it (reservation base + offset)
  uint64_t offset = 0;          // in the reservation
  bool inherited = false;       // from the parent's slot, at fork
  uint32_t flags = 0;           // img::VmaFlag bits
};

// The reservation the slots are in (the areas are TaskPlan.cow_areas).
struct CowPlan {
  uint64_t size = 0;  // bytes
  uint64_t base = 0;  // set by CowReservation::map
  // Sharing the image records but this restore cannot keep (the task gets
  // copies): one line per task, for a warning.
  std::vector<std::string> not_kept;
};

// Step 1 (pure, after the tree is planned): sets every TaskPlan.cow_areas
// and p.cow.size.
void plan_cow(Plan& p);

// The reservation (PROT_NONE, no memory) at an address free in every task's
// saved layout and in amber's own; unmapped from the controller by the
// destructor (the fork phase's processes keep their copy).
class CowReservation {
 public:
  static Result<CowReservation> map(Plan& p);
  CowReservation(CowReservation&& o) noexcept : base_(o.base_), size_(o.size_) { o.size_ = 0; }
  CowReservation& operator=(CowReservation&&) = delete;
  ~CowReservation();

 private:
  CowReservation(uint64_t base, uint64_t size) : base_(base), size_(size) {}
  uint64_t base_ = 0, size_ = 0;
};

// Step 2, in task `pid` itself during the fork phase, before it forks.
// `fd_of`: the page stores' data files as this process has them open.
Status build_cow_areas(const Plan& p, pid_t pid, const std::map<const image::PageReader*, int>& fd_of);

// The page stores the fork phase reads (build_cow_areas).
std::vector<const image::PageReader*> cow_stores(const Plan& p);

// Step 4: `host_of` maps the container's pids to amber's.
Status verify_cow(const Plan& p, const std::map<pid_t, pid_t>& host_of);

}  // namespace amber::restore
