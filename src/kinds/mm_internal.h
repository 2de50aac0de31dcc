// Helpers shared by mm_dump.cpp, mm_restore.cpp, mm_layout.cpp and vdso.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "mm.pb.h"

namespace amber::kinds::mm_detail {

inline constexpr uint64_t kPage = 4096;
// Highest user address with 5-level paging; a saved area beyond it is corrupt.
inline constexpr uint64_t kUserTop = 0x00fffffffffff000ull;
// Where the executor may go: the 47-bit user space every x86-64 kernel has.
inline constexpr uint64_t kUserTop47 = 0x00007ffffffff000ull;

inline bool is_vdso_name(std::string_view n) { return n == "[vdso]" || n == "[vvar]" || n == "[vvar_vclock]"; }

inline std::string prot_string(uint32_t prot) {
  std::string s = "---";
  if (prot & 1) s[0] = 'r';
  if (prot & 2) s[1] = 'w';
  if (prot & 4) s[2] = 'x';
  return s;
}

// "7f00..-7f00.. /usr/lib/x" or "7f00..-7f00.. [heap]": how errors name an area.
inline std::string area_label(uint64_t start, uint64_t end, std::string_view path, std::string_view name) {
  std::string_view what = !path.empty() ? path : name;
  if (what.empty()) return fmt::format("{:x}-{:x}", start, end);
  return fmt::format("{:x}-{:x} {}", start, end, what);
}
inline std::string area_label(const img::VmArea& a) { return area_label(a.start(), a.end(), a.path(), a.name()); }

// A private anonymous area whose pages a child may keep sharing with its
// parent after a restore (copy-on-write, PagesIndex.parent_runs): plain
// read-write memory the restore can map, fill and move (mremap) in one
// piece. Stacks (GROWSDOWN), locked, sealed, droppable, DONTFORK and
// WIPEONFORK areas are not (a child never inherits the last two as is).
inline bool cow_area(const img::VmArea& a) {
  constexpr uint32_t kNot = img::VMA_SHARED | img::VMA_FILE | img::VMA_UNSUPPORTED | img::VMA_GROWSDOWN |
                            img::VMA_DONTFORK | img::VMA_WIPEONFORK | img::VMA_DROPPABLE | img::VMA_SEALED |
                            img::VMA_LOCKED;
  return (a.flags() & img::VMA_ANON) && (a.flags() & img::VMA_PRIVATE) && !(a.flags() & kNot) && a.prot() == 3;
}

}  // namespace amber::kinds::mm_detail
