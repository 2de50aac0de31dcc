#include "kinds/mm_smaps.h"

#include <fmt/format.h>

#include "base/files.h"

namespace amber::kinds {

namespace {

uint32_t flag_of(std::string_view m) {
  struct Mnemonic {
    std::string_view name;
    uint32_t bit;
  };
  static constexpr Mnemonic kTable[] = {
      {"gd", kSmGrowsDown}, {"pf", kSmPfnMap},     {"io", kSmIo},          {"ht", kSmHugetlb},
      {"nr", kSmNoReserve}, {"dc", kSmDontFork},   {"dd", kSmDontDump},    {"wf", kSmWipeOnFork},
      {"hg", kSmHugePage},  {"nh", kSmNoHugePage}, {"um", kSmUffdMissing}, {"uw", kSmUffdWp},
      {"ui", kSmUffdMinor}, {"ss", kSmShadowStack}, {"sl", kSmSealed},     {"lo", kSmLocked},
      {"sh", kSmShared},    {"mw", kSmMayWrite},    {"lf", kSmLockOnFault}, {"dp", kSmDroppable},
  };
  for (const Mnemonic& e : kTable)
    if (e.name == m) return e.bit;
  return 0;
}

}  // namespace

Result<std::vector<SmapsArea>> parse_smaps(std::string_view text) {
  std::vector<SmapsArea> out;
  size_t n = 0;
  for (std::string_view line : split(text, '\n')) {
    n++;
    if (line.empty()) continue;
    auto fields = split_ws(line);
    if (fields.empty()) continue;
    std::string_view first = fields[0];
    if (first.ends_with(':')) {
      // "Key: value" of the current area: VmFlags and the shared pages.
      if ((first == "Shared_Clean:" || first == "Shared_Dirty:") && fields.size() >= 2 && !out.empty()) {
        if (auto kb = parse_uint(fields[1])) out.back().shared_kb += *kb;
        continue;
      }
      if (first != "VmFlags:") continue;
      if (out.empty()) return bad_input("smaps line {}: VmFlags before any area", n);
      for (size_t i = 1; i < fields.size(); i++) {
        out.back().flags |= flag_of(fields[i]);
        out.back().mnemonics.emplace_back(fields[i]);
      }
      continue;
    }
    // An area header: "start-end perms offset dev inode [path]".
    size_t dash = first.find('-');
    auto start = dash == std::string_view::npos ? std::nullopt : parse_uint(first.substr(0, dash), 16);
    auto end = dash == std::string_view::npos ? std::nullopt : parse_uint(first.substr(dash + 1), 16);
    if (!start || !end || *end < *start) return bad_input("smaps line {}: bad area header", n);
    out.push_back({*start, *end, 0, {}, 0});
  }
  return out;
}

Result<std::vector<SmapsArea>> read_smaps(pid_t pid) {
  std::string path = fmt::format("/proc/{}/smaps", pid);
  std::string text = TRY(read_file(path));
  return context(parse_smaps(text), path);
}

}  // namespace amber::kinds
