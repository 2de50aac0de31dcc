// The VmFlags line of each area in /proc/PID/smaps: the kernel VMA flags that
// /proc/PID/maps does not show (MAP_GROWSDOWN, hugetlb, VM_IO/VM_PFNMAP,
// userfaultfd registration, madvise flags, mseal, mlock, MAP_DROPPABLE).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace amber::kinds {

// Bits for the two-letter mnemonics of fs/proc/task_mmu.c we act on.
enum SmapsFlag : uint32_t {
  kSmGrowsDown = 1u << 0,    // gd
  kSmPfnMap = 1u << 1,       // pf
  kSmIo = 1u << 2,           // io
  kSmHugetlb = 1u << 3,      // ht
  kSmNoReserve = 1u << 4,    // nr
  kSmDontFork = 1u << 5,     // dc
  kSmDontDump = 1u << 6,     // dd
  kSmWipeOnFork = 1u << 7,   // wf
  kSmHugePage = 1u << 8,     // hg
  kSmNoHugePage = 1u << 9,   // nh
  kSmUffdMissing = 1u << 10, // um
  kSmUffdWp = 1u << 11,      // uw
  kSmUffdMinor = 1u << 12,   // ui
  kSmShadowStack = 1u << 13, // ss
  kSmSealed = 1u << 14,      // sl
  kSmLocked = 1u << 15,      // lo
  kSmShared = 1u << 16,      // sh
  kSmMayWrite = 1u << 17,    // mw
  kSmLockOnFault = 1u << 18, // lf: VM_LOCKONFAULT (mlock2 MLOCK_ONFAULT, mlockall MCL_ONFAULT)
  kSmDroppable = 1u << 19,   // dp: VM_DROPPABLE (MAP_DROPPABLE, 6.11+)
};

struct SmapsArea {
  uint64_t start = 0, end = 0;
  uint32_t flags = 0;                  // SmapsFlag bits
  std::vector<std::string> mnemonics;  // the whole VmFlags line (kinds/completeness checks it)
  // Shared_Clean + Shared_Dirty: of an anonymous private area, the pages it
  // shares copy-on-write with another process (after a fork).
  uint64_t shared_kb = 0;
};

// Areas in file order; an area without a VmFlags line has flags 0.
Result<std::vector<SmapsArea>> parse_smaps(std::string_view text);
Result<std::vector<SmapsArea>> read_smaps(pid_t pid);

}  // namespace amber::kinds
