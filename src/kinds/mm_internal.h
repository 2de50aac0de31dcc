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

}  // namespace amber::kinds::mm_detail
