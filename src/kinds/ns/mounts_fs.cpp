#include "kinds/ns/mounts_fs.h"

#include <algorithm>

#include "base/files.h"

namespace amber::kinds {
namespace {

// What each one's show_options prints (fs/proc/root.c, mm/shmem.c,
// fs/devpts/inode.c): sysfs and mqueue print nothing of their own.
const std::vector<FsKind>& kinds() {
  static const std::vector<FsKind> k = {
      {"proc", {"hidepid", "gid", "subset"}, {}},
      {"sysfs", {}, {}},
      {"tmpfs", {"size", "nr_inodes", "mode", "uid", "gid", "huge", "mpol"}, {"inode64", "inode32", "noswap"}},
      {"devpts", {"uid", "gid", "mode", "ptmxmode", "max"}, {}},
      {"mqueue", {}, {}},
  };
  return k;
}

bool listed(const std::vector<std::string_view>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

const FsKind* new_fs_kind(std::string_view fstype) {
  for (const FsKind& k : kinds())
    if (fstype == k.fstype) return &k;
  return nullptr;
}

Result<std::vector<std::pair<std::string, std::string>>> new_fs_params(const FsKind& kind,
                                                                       std::string_view super_options) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::string_view o : split(super_options, ',')) {
    if (o.empty() || o == "rw") continue;
    if (o == "ro") {
      out.emplace_back("ro", "");
      continue;
    }
    const size_t eq = o.find('=');
    const std::string_view key = o.substr(0, eq);
    if (eq != std::string_view::npos && listed(kind.keys, key)) {
      out.emplace_back(std::string(key), std::string(o.substr(eq + 1)));
    } else if (eq == std::string_view::npos && listed(kind.flags, key)) {
      out.emplace_back(std::string(key), "");
    } else {
      return unsupported("{} option '{}' is not one amber sets again", kind.fstype, o);
    }
  }
  return out;
}

bool is_sb_readonly(std::string_view super_options) {
  const auto opts = split(super_options, ',');
  return std::find(opts.begin(), opts.end(), "ro") != opts.end();
}

}  // namespace amber::kinds
